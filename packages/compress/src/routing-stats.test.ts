import assert from "node:assert/strict";
import { test } from "node:test";
import { StatsAccumulator } from "./routing-stats.js";

test("frequencies are activations per token (a layer sums to k) and mean weights average over the choosing tokens", () => {
  const acc = new StatsAccumulator(1, 3, 2);
  acc.addRouting(0, [0, 1, 0, 2, 1, 0], [0.75, 0.25, 0.5, 0.5, 0.9, 0.1]);
  const [l] = acc.finish().layers;
  assert.deepEqual(l.frequency, [1, 2 / 3, 1 / 3]);
  assert.ok(Math.abs(l.frequency.reduce((a, b) => a + b) - 2) < 1e-12);
  assert.ok(Math.abs(l.meanWeight[0] - (0.75 + 0.5 + 0.1) / 3) < 1e-12);
  assert.ok(Math.abs(l.meanWeight[1] - (0.25 + 0.9) / 2) < 1e-12);
  assert.equal(l.logitSimilarity, null);
});

test("router-logit similarity is the cosine of the experts' logit columns (reference: direct dot products)", () => {
  const E = 3;
  const logits = Float32Array.from([1, 2, -1, 0.5, -1, 3, 2, 2, 0, -1, 0.5, 1]); // [4, 3]
  const acc = new StatsAccumulator(1, E, 1);
  acc.addLogits(0, logits.subarray(0, 6));
  acc.addLogits(0, logits.subarray(6));
  const sim = acc.finish().layers[0].logitSimilarity!;
  const col = (e: number) => [0, 1, 2, 3].map((t) => logits[t * E + e]);
  const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
  for (let i = 0; i < E; i++) {
    for (let j = 0; j < E; j++) {
      const ref = dot(col(i), col(j)) / Math.sqrt(dot(col(i), col(i)) * dot(col(j), col(j)));
      assert.ok(Math.abs(sim[i][j] - ref) < 1e-6, `(${i}, ${j})`);
    }
  }
});

test("co-selection is the share of tokens that chose both experts (reference: counted pairs)", () => {
  const acc = new StatsAccumulator(1, 3, 2);
  acc.addRouting(0, [0, 1, 1, 0, 2, 1, 0, 2], [0.5, 0.5, 0.6, 0.4, 0.7, 0.3, 0.8, 0.2]);
  const { coSelection } = acc.finish().layers[0];
  assert.deepEqual(coSelection, [
    [0, 2 / 4, 1 / 4],
    [2 / 4, 0, 1 / 4],
    [1 / 4, 1 / 4, 0],
  ]);
});
