// The trained MLP predictor as ONNX: onnxruntime's output equals the TypeScript forward pass
// (packages/moe mlpForward), and its metadata says what it is.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createSession, int64Tensor } from "../ort-session.js";
import { fitTokenBias, mlpForward, routingExamples, trainMlp } from "@expertmesh/moe";
import { buildMlpPredictorModel } from "./mlp-model.js";
import { describePredictor, readPredictorInfo } from "./predictor-info.js";
import { syntheticTrace } from "./synthetic-trace.js";

const V = 40;
const D = 8;
const trace = syntheticTrace({ tokens: 400, numLayers: 3, numExperts: 8, topK: 2, seed: 5 });
trace.tokenIds.forEach((_, i) => {
  trace.tokenIds[i] = (i * 7) % V;
});
trace.positions.forEach((_, i) => {
  trace.positions[i] = i % 300;
});
let s = 11;
const embedding = Float32Array.from({ length: V * D }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
const examples = routingExamples([trace], 6);
const { model } = trainMlp({ vocab: V, dim: D, data: embedding }, examples, { hidden: 16, epochs: 3, batch: 32 });
fitTokenBias(model, examples, 0.5);
const onnx = buildMlpPredictorModel(model, { traceTokens: trace.tokens, source: "a.trace" });

test("onnxruntime's probabilities equal the TypeScript forward pass within 1e-5", async () => {
  const ids = [0, 1, 39, 7, 7, 20, 3, 12];
  const positions = [0, 1, 2, 3, 16, 17, 511, 100000]; // every bucket, and positions past the last row
  const expected = mlpForward(model, ids, positions);
  const session = await createSession(onnx, { threads: 1, executionProvider: "cpu" });
  try {
    const out = (
      await session.run({
        token_ids: int64Tensor(BigInt64Array.from(ids, BigInt), [ids.length]),
        positions: int64Tensor(BigInt64Array.from(positions, BigInt), [ids.length]),
      })
    ).probabilities;
    assert.deepEqual(out.dims, [ids.length, 3, 8]);
    const data = out.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(data[i] - expected[i]));
    assert.ok(worst < 1e-5, `largest difference ${worst}`);
  } finally {
    await session.release();
  }
});

test("the metadata names a trained mlp, its shape and vocabulary", () => {
  const info = readPredictorInfo(onnx, "mlp.onnx");
  assert.deepEqual(info, {
    kind: "mlp",
    baseline: false,
    numLayers: 3,
    numExperts: 8,
    topK: 2,
    traceTokens: 400,
    vocabSize: V,
    source: "a.trace",
  });
  assert.equal(describePredictor(info), "mlp (trained): (token, position) -> 3 x 8 (top-2), from 400 trace tokens");
});
