import assert from "node:assert/strict";
import { test } from "node:test";
import { gate } from "./gate.js";

// Reference: sort probabilities in float64 and take the first k (an independent formulation).
function referenceGate(logits: number[], k: number) {
  const m = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  const p = e.map((x) => x / s);
  const order = p
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k);
  const z = order.reduce((a, [v]) => a + v, 0);
  return { experts: order.map(([, i]) => i), weights: order.map(([v]) => v / z), probs: p };
}

test("gate matches a sort-based reference on random logits (tolerance 1e-6)", () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 8 - 4;
  const E = 16,
    k = 2,
    N = 50;
  const logits = Float32Array.from({ length: N * E }, rand);
  const r = gate(logits, E, k);
  for (let t = 0; t < N; t++) {
    const ref = referenceGate(Array.from(logits.subarray(t * E, t * E + E)), k);
    assert.deepEqual(Array.from(r.experts.subarray(t * k, t * k + k)), ref.experts);
    ref.weights.forEach((w, j) => {
      assert.ok(Math.abs(r.weights[t * k + j] - w) < 1e-6);
    });
    ref.probs.forEach((p, e) => {
      assert.ok(Math.abs(r.probs[t * E + e] - p) < 1e-6);
    });
  }
});

test("gate weights of each token sum to 1 and ties go to the lower expert id", () => {
  const r = gate(Float32Array.from([1, 3, 3, 0]), 4, 2);
  assert.deepEqual(Array.from(r.experts), [1, 2]);
  assert.ok(Math.abs(r.weights[0] + r.weights[1] - 1) < 1e-7);
  assert.ok(Math.abs(r.weights[0] - 0.5) < 1e-7);
});

test("gate rejects k outside 1..E and logits that are not a multiple of E", () => {
  assert.throws(() => gate(new Float32Array(8), 4, 5), /k=5/);
  assert.throws(() => gate(new Float32Array(7), 4, 2), /multiple of E=4/);
});
