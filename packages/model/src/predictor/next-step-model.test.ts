// The next-step table as an ONNX model: onnxruntime gives the table's rows (packages/moe
// nextStepPredictions, the reference) exactly, the prior for ids outside it; metadata says what it predicts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createSession, int64Tensor, readOnnxMetadata } from "@expertmesh/model";
import { buildNextStepTable, nextStepPredictions } from "@expertmesh/moe";
import { readPredictorInfo } from "./predictor-info.js";
import { buildNextStepModel, PREDICTS_KEY, PREDICTS_NEXT_STEP } from "./next-step-model.js";
import { syntheticTrace } from "./synthetic-trace.js";

const trace = syntheticTrace({ tokens: 400, numLayers: 4, numExperts: 16, topK: 2, seed: 5 });
const table = buildNextStepTable([trace]);
const model = buildNextStepModel(table, { source: "a.trace", pseudo: 2 });

test("next-step model metadata: kind, shape, pairs counted, predicts=next-step", () => {
  const info = readPredictorInfo(model, "next.onnx");
  assert.equal(info.kind, "next-step-table");
  assert.equal(info.baseline, false);
  assert.deepEqual([info.numLayers, info.numExperts, info.topK, info.traceTokens], [4, 16, 2, table.pairs]);
  assert.equal(readOnnxMetadata(model, "next.onnx").get(PREDICTS_KEY), PREDICTS_NEXT_STEP);
});

test("onnxruntime returns the table's rows, and the prior row for ids outside the table", async () => {
  const session = await createSession(model, { threads: 1, executionProvider: "cpu" });
  try {
    const ids = [0, 3, table.vocab - 1, table.vocab, 100000, -4, 3];
    const out = await session.run({
      token_ids: int64Tensor(BigInt64Array.from(ids.map(BigInt)), [ids.length]),
      positions: int64Tensor(new BigInt64Array(ids.length), [ids.length]),
    });
    assert.deepEqual(out.probabilities.dims, [ids.length, 4, 16]);
    assert.deepEqual(out.probabilities.data as Float32Array, nextStepPredictions(table, ids));
    const prior = table.probabilities.subarray(table.vocab * 64);
    assert.deepEqual((out.probabilities.data as Float32Array).subarray(5 * 64, 6 * 64), prior);
  } finally {
    await session.release();
  }
});
