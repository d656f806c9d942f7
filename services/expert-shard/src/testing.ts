// Shared by this service's tests (not part of the service): a shard on port 0 over the bundled model,
// a client with promise-returning calls, the in-process reference runner, and random hidden states.

import { ExpertShardServiceClient, HealthClient, type HealthCheckResponse } from "@expertmesh/proto";
import { BUNDLED_MODEL_DIR, Checkpoint, LocalExpertRunner } from "@expertmesh/model";
import { channelOptions, errorFromStatus, float32Tensor, silentLogger, type ExpertMeshError } from "@expertmesh/runtime";
import { credentials, Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { parseShardConfig } from "./config.js";
import { serveShard, type ShardServer } from "./server.js";

export { BUNDLED_MODEL_DIR };

/** Sizes of the bundled model (tests derive what they expect from these, not from constants). */
export function bundledSizes(): { D: number; L: number; E: number; expertBytes: number } {
  const checkpoint = Checkpoint.open(BUNDLED_MODEL_DIR);
  const { hiddenSize: D, numLayers: L, numExperts: E } = checkpoint.config;
  return { D, L, E, expertBytes: checkpoint.expertBytes() };
}

/** A shard serving the bundled model on a free loopback port; `flags` as on the command line. */
export function startShard(flags: readonly string[] = []): Promise<ShardServer> {
  const config = parseShardConfig(["--port", "0", "--drain-timeout", "10s", ...flags], {});
  return serveShard(config, { signals: [], logger: silentLogger });
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Call options plus a signal that cancels the call. */
export type TestCallOptions = Partial<CallOptions> & { signal?: AbortSignal };

function call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, { signal, ...options }: TestCallOptions = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const pending = method(request, new Metadata(), options, (error, response) => (error ? reject(error) : resolve(response)));
    signal?.addEventListener("abort", () => pending.cancel(), { once: true });
  });
}

/** Promise-returning ExpertShardService and health calls over one channel. */
export function shardClient(address: string) {
  const client = new ExpertShardServiceClient(address, credentials.createInsecure(), channelOptions());
  const health = new HealthClient(address, credentials.createInsecure(), channelOptions());
  return {
    runExperts: (request: Parameters<typeof client.runExperts>[0], options?: TestCallOptions) =>
      call(client.runExperts.bind(client), request, options),
    prefetch: (request: Parameters<typeof client.prefetch>[0]) => call(client.prefetch.bind(client), request),
    cacheStats: () => call(client.cacheStats.bind(client), {}),
    check: (): Promise<HealthCheckResponse> => call(health.check.bind(health), { service: "" }),
    close: () => {
      client.close();
      health.close();
    },
  };
}

/** The typed error behind a failed call (asserts that it failed). */
export async function failure(promise: Promise<unknown>): Promise<ExpertMeshError & { code: number }> {
  try {
    await promise;
  } catch (error) {
    return errorFromStatus(error as ServiceError) as ExpertMeshError & { code: number };
  }
  throw new Error("the call succeeded; it was expected to fail");
}

/** Deterministic pseudo-random values in [-1, 1). */
export function randomValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
}

/** Hidden states [rows, D] as a wire tensor. */
export function hidden(rows: number, D: number, seed: number) {
  return float32Tensor(randomValues(rows * D, seed), [rows, D]);
}

/** The in-process reference: every expert of the bundled model in one onnxruntime session. */
export async function referenceRunner(modelDir = BUNDLED_MODEL_DIR): Promise<{ runner: LocalExpertRunner; checkpoint: Checkpoint }> {
  const checkpoint = Checkpoint.open(modelDir);
  return { runner: await LocalExpertRunner.create(checkpoint, { threads: 1, executionProvider: "cpu" }), checkpoint };
}

/** Resolves once `predicate` holds (polled), or rejects after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
