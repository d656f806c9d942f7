// onnxruntime-node sessions with the execution provider and thread count taken from configuration.
// The provider is chosen explicitly: ["cuda", "cpu"] throws where CUDA is missing instead of falling back.
//
// Threads: onnxruntime-node creates its Ort::Env without global thread pools (js/node/src/
// ort_singleton_data.cc), so every session owns an intra-op pool; there is no shared pool to opt into.
// `threads` is therefore the budget of one session run, and a process that runs its sessions one after
// another (MoeRuntime: dense graph, experts, head, in turn) gives each session the whole budget. What
// made that costly was spinning: an idle pool's threads busy-wait for the next run, so ten sessions
// with two threads each fought over two cores (measured: --threads 2 decoded 3-4x slower than 1).
// Spinning is off by default; a process that runs sessions concurrently splits its budget among them.
// Within a run, onnxruntime's MoE kernel gives each thread whole experts (and runs each expert's matrix
// products on one thread); the fused path therefore cuts every expert into one slice per thread
// (forward-fused.ts expertParts, graphs/moe-block.ts), so that all threads share each chosen expert.
import * as ort from "onnxruntime-node";

export type ExecutionProvider = "cpu" | "cuda";

export interface SessionConfig {
  /** Threads per operator (intraOpNumThreads): the budget of one run; see the note above. */
  threads: number;
  executionProvider: ExecutionProvider;
  /** Let idle intra-op threads busy-wait for work (lower latency on an otherwise idle, dedicated machine). Default false. */
  spinning?: boolean;
}

export const DEFAULT_SESSION_CONFIG: SessionConfig = Object.freeze({ threads: 1, executionProvider: "cpu", spinning: false });

export function createSession(model: Uint8Array, config: SessionConfig): Promise<ort.InferenceSession> {
  const spin = config.spinning ? "1" : "0";
  return ort.InferenceSession.create(model, {
    executionProviders: [config.executionProvider],
    intraOpNumThreads: config.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  });
}

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

export function int64Tensor(data: BigInt64Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("int64", data, dims);
}

export type { InferenceSession, Tensor } from "onnxruntime-node";
