// Predictor metrics and the frequency prior on hand-made routing, with answers worked out by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  batchCoverage,
  decodeBatchCoverage,
  evaluatePredictor,
  predictedTopK,
  recallAtK,
  type ExpertChoices,
} from "./predictor-metrics.js";
import { frequencyPrior } from "./predictor-prior.js";

const choices = (rows: number[][][]): ExpertChoices => ({
  tokens: rows.length,
  numLayers: rows[0].length,
  numExperts: 4,
  topK: rows[0][0].length,
  experts: Uint16Array.from(rows.flat(2)),
});

// T=4, L=2, E=4, k=2; rows are [token][layer] = top-k.
const truth = choices([
  [
    [0, 1],
    [3, 2],
  ],
  [
    [0, 2],
    [3, 2],
  ],
  [
    [1, 3],
    [3, 2],
  ],
  [
    [2, 3],
    [3, 2],
  ],
]);
const predicted = choices([
  [
    [0, 1],
    [3, 0],
  ],
  [
    [0, 1],
    [2, 3],
  ],
  [
    [0, 1],
    [0, 1],
  ],
  [
    [0, 1],
    [3, 2],
  ],
]);

const close = (actual: number[], expected: number[]) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    assert.ok(Math.abs(a - expected[i]) < 1e-12, `[${i}] ${a} != ${expected[i]}`);
  });
};

test("recall@k is the share of each token's true top-k in its predicted top-k, per layer", () => {
  // layer 0: 2/2, 1/2, 1/2, 0/2; layer 1: 1/2, 2/2, 0/2, 2/2
  const r = recallAtK(truth, predicted);
  close(r.perLayer, [0.5, 0.625]);
  assert.equal(r.mean, 0.5625);
});

test("batch coverage at B=1 equals recall@k", () => {
  close(batchCoverage(truth, predicted, 1).perLayer, recallAtK(truth, predicted).perLayer);
});

test("batch coverage unions the batch's true and predicted sets", () => {
  // B=2, layer 0: {0,1,2} vs {0,1} -> 2/3; {1,2,3} vs {0,1} -> 1/3. Layer 1: {2,3} covered by {0,2,3} and {0,1,2,3}.
  const b2 = batchCoverage(truth, predicted, 2);
  assert.equal(b2.batches, 2);
  close(b2.perLayer, [0.5, 1]);
  // B=4: {0,1,2,3} vs {0,1} -> 1/2; {2,3} vs all -> 1.
  close(batchCoverage(truth, predicted, 4).perLayer, [0.5, 1]);
});

test("a trailing partial batch is not scored; no full batch gives NaN", () => {
  const b3 = batchCoverage(truth, predicted, 3); // tokens 0..2 only: {0,1,2,3} vs {0,1}; {2,3} vs {0,1,2,3}
  assert.equal(b3.batches, 1);
  close(b3.perLayer, [0.5, 1]);
  const b5 = batchCoverage(truth, predicted, 5);
  assert.equal(b5.batches, 0);
  assert.ok(Number.isNaN(b5.mean));
});

test("predicted top-k takes the most probable experts, ties to the lower id, NaN last", () => {
  const probabilities = Float32Array.of(0.1, 0.4, 0.4, 0.1, 0.3, 0.3, 0.3, 0.1, NaN, 0.2, 0.1, 0, 0.1, 0.2, 0.3, 0.9);
  const top = predictedTopK(probabilities, { tokens: 2, numLayers: 2, numExperts: 4 }, 2);
  assert.deepEqual(Array.from(top.experts), [1, 2, 0, 1, 1, 2, 3, 2]);
});

test("evaluatePredictor scores probabilities through their top-k", () => {
  // Probabilities whose top-2 are the `predicted` sets above.
  const probabilities = new Float32Array(4 * 2 * 4);
  predicted.experts.forEach((e, i) => {
    probabilities[Math.floor(i / 2) * 4 + e] = i % 2 === 0 ? 0.6 : 0.3;
  });
  // Four one-token sequences: decode batches of 2 are tokens {0, 1} and {2, 3}.
  const sequences = [0, 1, 2, 3].map((start) => ({ start, length: 1 }));
  const report = evaluatePredictor({ ...truth, sequences }, probabilities, [1, 2]);
  close(report.recallAtK.perLayer, [0.5, 0.625]);
  assert.deepEqual(
    report.batchCoverage.map((b) => b.batch),
    [1, 2],
  );
  close(report.batchCoverage[1].perLayer, [0.5, 1]);
});

test("decode batches hold one token of each of B sequences per step, lanes refilled as sequences end", () => {
  // Sequences [0, 1] and [2] and [3]. B=2: step 0 = tokens {0, 2}, step 1 = {1, 3}.
  const trace = {
    ...truth,
    sequences: [
      { start: 0, length: 2 },
      { start: 2, length: 1 },
      { start: 3, length: 1 },
    ],
  };
  const b2 = decodeBatchCoverage(trace, predicted, 2);
  assert.equal(b2.batches, 2);
  // Layer 0: step 0 needs {0,1,3}, names {0,1}: 2/3; step 1 needs {0,2,3}, names {0,1}: 1/3.
  // Layer 1: step 0 needs {2,3}, names {0,1,3}: 1/2; step 1 needs {2,3}, names {2,3}: 1.
  close(b2.perLayer, [0.5, 0.75]);
  // B=3: step 0 = {0, 2, 3}, step 1 = {1} alone (the other lanes idle).
  const b3 = decodeBatchCoverage(trace, predicted, 3);
  assert.equal(b3.batches, 2);
  // Layer 0: {0,1,2,3} vs {0,1}: 1/2; {0,2} vs {0,1}: 1/2. Layer 1: {2,3} vs {0,1,2,3}: 1; {2,3} vs {2,3}: 1.
  close(b3.perLayer, [0.5, 1]);
  close(decodeBatchCoverage(trace, predicted, 1).perLayer, recallAtK(truth, predicted).perLayer);
});

test("metrics refuse a prediction of another shape", () => {
  assert.throws(
    () => recallAtK(truth, { ...predicted, numLayers: 1, experts: predicted.experts.subarray(0, 8) }),
    /truth has T=4 L=2 E=4 k=2/,
  );
});

test("the frequency prior is, per layer, the share of tokens whose top-k includes each expert", () => {
  const prior = frequencyPrior([
    truth,
    choices([
      [
        [0, 1],
        [2, 3],
      ],
    ]),
  ]);
  assert.equal(prior.tokens, 5);
  // layer 0 counts: e0 3, e1 3, e2 2, e3 2; layer 1: e2 5, e3 5.
  close(
    Array.from(prior.probabilities),
    [0.6, 0.6, 0.4, 0.4, 0, 0, 1, 1].map((x) => Math.fround(x)),
  );
  assert.throws(() => frequencyPrior([truth, { ...truth, numExperts: 8 }]), /trace 1 has L=2 E=8 k=2/);
  assert.throws(() => frequencyPrior([]), /no traces/);
});
