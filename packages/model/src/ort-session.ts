// onnxruntime-node sessions with the execution provider and thread count taken from configuration.
// The provider is chosen explicitly: ["cuda", "cpu"] throws where CUDA is missing instead of falling back.
import * as ort from "onnxruntime-node";

export type ExecutionProvider = "cpu" | "cuda";

export interface SessionConfig {
  /** Threads per operator (intraOpNumThreads). On 2 shared cores one thread often wins. */
  threads: number;
  executionProvider: ExecutionProvider;
}

export const DEFAULT_SESSION_CONFIG: SessionConfig = Object.freeze({ threads: 1, executionProvider: "cpu" });

export function createSession(model: Uint8Array, config: SessionConfig): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: [config.executionProvider],
    intraOpNumThreads: config.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  });
}

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

export function int64Tensor(data: BigInt64Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("int64", data, dims);
}

export type { InferenceSession, Tensor } from "onnxruntime-node";
