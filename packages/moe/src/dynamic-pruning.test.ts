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

test("calibrateBeta puts the target share of ratios below it", () => {
  const ratios = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const beta = calibrateBeta(ratios, 0.2);
  assert.equal(ratios.filter((r) => r < beta).length, 200);
  assert.throws(() => calibrateBeta(ratios, 1), /\[0, 1\)/);
});
