// Shared by this service's tests (not exported from index.ts): synthetic routing traces, predictor
// models written to disk, a server on port 0, and a promise wrapper for unary client calls.
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer, k experts chosen per
// token.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { GraphBuilder, buildFrequencyPriorModel, PREDICTOR_INPUTS, PREDICTOR_OUTPUT, predictorMetadata } from "@expertmesh/model";
import { frequencyPrior, type RoutingTrace } from "@expertmesh/moe";
import { PredictorServiceClient } from "@expertmesh/proto";
import { channelOptions, silentLogger } from "@expertmesh/runtime";
import { predictorConfig } from "./config.js";
export { syntheticTrace } from "@expertmesh/model/testing";
import { startPredictor, type Predictor } from "./server.js";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

/** Writes the frequency prior of `trace` as a predictor model file; returns its path. */
export function writePriorModel(dir: string, trace: RoutingTrace, name = "prior.onnx"): string {
  const path = join(dir, name);
  writeFileSync(path, buildFrequencyPriorModel(frequencyPrior([trace]), { source: "test" }));
  return path;
}

/**
 * A predictor model that is slow on purpose: a uniform [L, E] output, plus zero times the sum of a
 * chain of `matmuls` [T, W] x [W, W] products computed from the token ids (so that nothing folds away).
 */
export function writeSlowModel(dir: string, shape: { numLayers: number; numExperts: number }, matmuls: number, width = 256): string {
  const { numLayers: L, numExperts: E } = shape;
  const g = new GraphBuilder("slow_predictor");
  const tokenIds = g.input(PREDICTOR_INPUTS.tokenIds, "int64", ["T"]);
  g.input(PREDICTOR_INPUTS.positions, "int64", ["T"]);
  const T = g.op("Shape", [tokenIds]); // [1]
  let x = g.op("Unsqueeze", [g.op("Cast", [tokenIds], { to: 1 }), g.ints([1])]); // [T, 1]
  x = g.op("Expand", [x, g.op("Concat", [T, g.ints([width])], { axis: 0 })]); // [T, W]
  const w = g.initializer("w", new Float32Array(width * width).fill(1 / width), [width, width]); // keeps values bounded
  for (let i = 0; i < matmuls; i++) x = g.op("MatMul", [x, w]);
  const zero = g.op("Mul", [g.op("ReduceSum", [x], { keepdims: 0 }), g.scalar(0)]); // []
  const uniform = g.initializer("uniform", new Float32Array(L * E).fill(2 / E), [1, L, E]);
  const out = g.op("Add", [g.op("Expand", [uniform, g.op("Concat", [T, g.ints([L, E])], { axis: 0 })]), zero]);
  g.output(out, PREDICTOR_OUTPUT, "float32", ["T", L, E]);
  for (const [key, value] of predictorMetadata({ kind: "slow-test", baseline: true, numLayers: L, numExperts: E, topK: 2 }))
    g.metadata(key, value);
  const path = join(dir, "slow.onnx");
  writeFileSync(path, g.build());
  return path;
}

/** Starts the service on 127.0.0.1, port 0, with `flags` (e.g. ["--predictor", file]). */
export function startTestPredictor(flags: string[]): Promise<Predictor> {
  return startPredictor(predictorConfig.parse(["--port", "0", ...flags], {}), { logger: silentLogger });
}

export function predictorClient(address: string): PredictorServiceClient {
  return new PredictorServiceClient(address, credentials.createInsecure(), channelOptions());
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Calls a unary method of a generated client and returns a promise (rejecting with the ServiceError). */
export function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, options: Partial<CallOptions> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new Metadata(), options, (error, response) => (error ? reject(error) : resolve(response)));
  });
}
