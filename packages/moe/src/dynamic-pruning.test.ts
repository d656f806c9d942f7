import assert from "node:assert/strict";
import { test } from "node:test";
import { planDispatch } from "./dispatch-plan.js";
import { calibrateBeta, protectedTokens, pruneRouting, SKIPPED_EXPERT } from "./dynamic-pruning.js";

test("pruneRouting skips a second expert below beta times the first, renormalises the kept weight to 1, and spares protected tokens", () => {
  const experts = Int32Array.from([3, 5, 1, 2, 4, 0]);
  const weights = Float32Array.from([0.8, 0.2, 0.55, 0.45, 0.9, 0.1]);
  const skipped = pruneRouting(experts, weights, 2, 0.5, Uint8Array.from([0, 0, 1]));
  assert.equal(skipped, 1);
  assert.deepEqual(Array.from(experts), [3, SKIPPED_EXPERT, 1, 2, 4, 0]);
  assert.deepEqual(Array.from(weights), [1, 0, Math.fround(0.55), Math.fround(0.45), Math.fround(0.9), Math.fround(0.1)]);
  const groups = planDispatch(experts, weights, 2);
  assert.ok(
    groups.every((g) => g.expert >= 0),
    "a skipped expert is dispatched nowhere",
  );
  assert.equal(
    groups.reduce((a, g) => a + g.rows.length, 0),
    5,
  );
});

test("protectedTokens marks the ceil(share * n) rows of largest L1 norm per sequence, none for one-token sequences", () => {
  const D = 2;
  const x = Float32Array.from([1, 1, -5, 0, 0.5, 0, 3, 3, 9, 9]); // rows: 2, 5, 0.5 | 6 | 18
  const p = protectedTokens(x, D, [3, 1, 1], 0.5);
  assert.deepEqual(Array.from(p), [1, 1, 0, 0, 0]);
});

test("the reference score weighs token i of n by 1 / (n - i): MC-MoE's head-averaged causal attention row sums over arange(n, 0, -1)", () => {
  const D = 2;
  // L1 norms 8, 6, 3, 2 in one sequence of 4: reference scores 8/4, 6/3, 3/2, 2/1 = 2, 2, 1.5, 2.
  const x = Float32Array.from([4, 4, 3, 3, 1.5, 1.5, 1, 1]);
  assert.deepEqual(Array.from(protectedTokens(x, D, [4], 0.5)), [1, 1, 0, 0]);
  assert.deepEqual(Array.from(protectedTokens(x, D, [4], 0.5, "reference")), [1, 1, 0, 0]);
  assert.deepEqual(Array.from(protectedTokens(x, D, [4], 0.75, "reference")), [1, 1, 0, 1]);
  // The reference's attention factor, from an explicit causal attention map: row sums 1, divided by n - i.
  const n = 5;
  const att = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (j <= i ? 1 / (i + 1) : 0)));
  const factor = att.map((row, i) => row.reduce((a, b) => a + b, 0) / (n - i));
  factor.forEach((f, i) => {
    assert.ok(Math.abs(f - 1 / (n - i)) < 1e-12);
  });
});

test("calibrateBeta puts the target share of ratios below it", () => {
  const ratios = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const beta = calibrateBeta(ratios, 0.2);
  assert.equal(ratios.filter((r) => r < beta).length, 200);
  assert.throws(() => calibrateBeta(ratios, 1), /\[0, 1\)/);
});
