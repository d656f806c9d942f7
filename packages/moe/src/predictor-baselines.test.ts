// The baselines that `predictor eval` scores a predictor against, on hand-made traces with answers worked
// out by hand: the frequency prior and "same experts as the previous token", scored by recall@k and
// decode-batch coverage.
import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluatePredictor } from "./predictor-metrics.js";
import { previousTokenPredictions } from "./predictor-previous.js";
import { frequencyPrior } from "./predictor-prior.js";

// Two sequences: tokens 0-2 and 3-4. L=1, E=4, k=2; rows are each token's true top-2.
const trace = {
  tokens: 5,
  numLayers: 1,
  numExperts: 4,
  topK: 2,
  sequences: [
    { start: 0, length: 3 },
    { start: 3, length: 2 },
  ],
  experts: Uint16Array.of(0, 1, /**/ 0, 2, /**/ 0, 2, /**/ 3, 2, /**/ 3, 1),
};
const close = (actual: number[], expected: number[]) =>
  actual.forEach((a, i) => {
    assert.ok(Math.abs(a - expected[i]) < 1e-6, `${actual} != ${expected}`);
  });

test("the prior names the most frequent experts for every token", () => {
  const prior = frequencyPrior([trace]); // counts: e0 x3, e1 x2, e2 x3, e3 x2 -> top-2 {0, 2}
  close(Array.from(prior.probabilities), [0.6, 0.4, 0.6, 0.4]);
  const all = new Float32Array(5 * 4);
  for (let t = 0; t < 5; t++) all.set(prior.probabilities, t * 4);
  const report = evaluatePredictor(trace, all, [1, 2]);
  // recall: {0,1}:1/2, {0,2}:1, {0,2}:1, {3,2}:1/2, {3,1}:0 -> 3/5.
  close(report.recallAtK.perLayer, [0.6]);
  // B=2 decode steps: {0, 3} -> needs {0,1,2,3}, names {0,2}: 1/2; {1, 4} -> {0,2,3,1}: 1/2; {2} -> {0,2}: 1.
  close(report.batchCoverage[1].perLayer, [2 / 3]);
});

test("previous token: each token gets its predecessor's experts, a sequence's first token the prior's", () => {
  const prior = frequencyPrior([trace]).probabilities;
  const report = evaluatePredictor(trace, previousTokenPredictions(trace, prior, 1), [1, 2]);
  // Predictions: t0 prior {0,2}; t1 {0,1}; t2 {0,2}; t3 prior {0,2}; t4 {3,2}.
  // recall: {0,1} vs {0,2}: 1/2; {0,2} vs {0,1}: 1/2; {0,2} vs {0,2}: 1; {3,2} vs {0,2}: 1/2; {3,1} vs {3,2}: 1/2 -> 3/5.
  close(report.recallAtK.perLayer, [0.6]);
  // B=2: step {0, 3}: needs {0,1,2,3}, names {0,2}: 1/2; step {1, 4}: needs {0,2,3,1}, names {0,1,2,3}: 1; step {2}: 1.
  close(report.batchCoverage[1].perLayer, [2.5 / 3]);
});
