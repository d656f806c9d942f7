import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "@expertmesh/moe";
import { groupCollapse, groupExperts, layerCounts, mergeGroup, permuteNeurons } from "./merge-experts.js";

const D = 8,
  F = 12;
function randomExpert(seed: number) {
  const r = seededRandom(seed);
  const t = (n: number) => Float32Array.from({ length: n }, () => r() - 0.5);
  return { w1: t(F * D), w3: t(F * D), w2: t(D * F) };
}

/** y = w2 (silu(w1 x) * w3 x), in float64: the reference expert. */
function expertOut(w: { w1: Float32Array; w3: Float32Array; w2: Float32Array }, x: number[]): number[] {
  const act = Array.from({ length: F }, (_, f) => {
    let a = 0,
      b = 0;
    for (let d = 0; d < D; d++) {
      a += w.w1[f * D + d] * x[d];
      b += w.w3[f * D + d] * x[d];
    }
    return (a / (1 + Math.exp(-a))) * b;
  });
  return Array.from({ length: D }, (_, d) => act.reduce((s, v, f) => s + v * w.w2[d * F + f], 0));
}

test("permuting an expert's neurons leaves its output unchanged (1e-6)", () => {
  const w = randomExpert(1);
  const p = Int32Array.from({ length: F }, (_, i) => (i * 5 + 3) % F);
  const x = Array.from({ length: D }, (_, d) => Math.sin(d + 1));
  const [a, b] = [expertOut(w, x), expertOut(permuteNeurons(w, p, D, F), x)];
  a.forEach((v, i) => {
    assert.ok(Math.abs(v - b[i]) < 1e-6);
  });
});

test("merging an expert with a neuron-permuted copy of itself gives the expert back: alignment undoes the permutation", () => {
  const w = randomExpert(2);
  const p = Int32Array.from({ length: F }, (_, i) => (i * 7 + 1) % F);
  const merged = mergeGroup([w, permuteNeurons(w, p, D, F)], [0.3, 0.7], D, F);
  for (const k of ["w1", "w3", "w2"] as const)
    merged[k].forEach((v, i) => {
      assert.ok(Math.abs(v - w[k][i]) < 1e-6, k);
    });
  const unaligned = mergeGroup([w, permuteNeurons(w, p, D, F)], [0.3, 0.7], D, F, false);
  assert.ok(
    unaligned.w1.some((v, i) => Math.abs(v - w.w1[i]) > 1e-3),
    "without alignment the average differs",
  );
});

test("groupExperts keeps the K most frequent experts and sends each other expert to its most similar dominant one", () => {
  const frequency = [0.1, 0.5, 0.2, 0.4, 0.8];
  const sim = [
    [1, 0.2, 0.9, 0.8, 0.1],
    [0.2, 1, 0, 0, 0],
    [0.9, 0, 1, 0.3, 0.7],
    [0.8, 0, 0.3, 1, 0],
    [0.1, 0, 0.7, 0, 1],
  ];
  const g = groupExperts(frequency, sim, 3);
  assert.deepEqual(g.dominant, [4, 1, 3]);
  assert.deepEqual(g.group, [3, 1, 4, 3, 4]);
});

test("layerCounts keeps the L·K most frequent experts of all layers, at least `min` per layer", () => {
  // Layer 0 spreads its use over 4 experts, layer 1 concentrates it on 2: K = 2 on average gives 3 and 1.
  const freq = [
    [0.26, 0.25, 0.25, 0.24],
    [0.9, 0.08, 0.01, 0.01],
  ];
  assert.deepEqual(layerCounts(freq, 2), [3, 1]);
  assert.deepEqual(layerCounts(freq, 2, 2), [2, 2]);
  assert.deepEqual(layerCounts(freq, 4), [4, 4]);
  // Shares of the layer's activations, not raw counts: scaling a layer changes nothing.
  assert.deepEqual(layerCounts([freq[0].map((f) => f * 2), freq[1]], 2), [3, 1]);
  assert.throws(() => layerCounts(freq, 5), /1\.\.4, got 5/);
});

test("groupCollapse sums the co-selection of slots that share a group", () => {
  const co = [
    [0, 0.3, 0.1],
    [0.3, 0, 0.2],
    [0.1, 0.2, 0],
  ];
  assert.equal(groupCollapse([0, 0, 2], co), 0.3);
  assert.equal(groupCollapse([0, 1, 2], co), 0);
  assert.ok(Math.abs(groupCollapse([0, 0, 0], co) - 0.6) < 1e-12);
});
