// The frequency-prior predictor model: its metadata, and its output in onnxruntime (in process).
import assert from "node:assert/strict";
import { test } from "node:test";
import { createSession, GraphBuilder, int64Tensor } from "@expertmesh/model";
import { frequencyPrior } from "@expertmesh/moe";
import { describePredictor, readPredictorInfo } from "./predictor-info.js";
import { buildFrequencyPriorModel } from "./prior-model.js";
import { syntheticTrace } from "./synthetic-trace.js";

const trace = syntheticTrace({ tokens: 300, numLayers: 4, numExperts: 16, topK: 2, seed: 3 });
const prior = frequencyPrior([trace]);
const model = buildFrequencyPriorModel(prior, { source: "traces/a.trace" });

test("the model's metadata names its kind, shape and the tokens it was built from", () => {
  assert.deepEqual(readPredictorInfo(model, "prior.onnx"), {
    kind: "frequency-prior",
    baseline: true,
    numLayers: 4,
    numExperts: 16,
    topK: 2,
    traceTokens: 300,
    source: "traces/a.trace",
  });
  assert.equal(
    describePredictor(readPredictorInfo(model, "x")),
    "frequency-prior (baseline): (token, position) -> 4 x 16 (top-2), from 300 trace tokens",
  );
});

test("onnxruntime returns the prior [L, E] for every token, whatever the ids and positions", async () => {
  const session = await createSession(model, { threads: 1, executionProvider: "cpu" });
  try {
    assert.deepEqual([...session.inputNames].sort(), ["positions", "token_ids"]);
    const T = 7;
    const out = await session.run({
      token_ids: int64Tensor(BigInt64Array.from([0n, 1n, 4095n, 7n, 7n, 100000n, 3n]), [T]),
      positions: int64Tensor(
        BigInt64Array.from({ length: T }, (_, i) => BigInt(i * 13)),
        [T],
      ),
    });
    const p = out.probabilities;
    assert.deepEqual(p.dims, [T, 4, 16]);
    const data = p.data as Float32Array;
    for (let t = 0; t < T; t++) assert.deepEqual(data.subarray(t * 64, (t + 1) * 64), prior.probabilities);
  } finally {
    await session.release();
  }
});

test("a model without predictor metadata, or not ONNX at all, is refused naming the file", () => {
  const g = new GraphBuilder("plain");
  g.output(g.op("Identity", [g.input("x", "float32", [1])]), "y", "float32", [1]);
  assert.throws(() => readPredictorInfo(g.build(), "plain.onnx"), /plain\.onnx: predictor metadata "baseline" is missing/);
  assert.throws(() => readPredictorInfo(new TextEncoder().encode("certainly not a model"), "text.onnx"), /text\.onnx: not an ONNX model/);
});
