import assert from "node:assert/strict";
import { test } from "node:test";
import { gatherRows, planDispatch, scatterAddWeighted } from "./dispatch-plan.js";

test("planDispatch groups tokens by expert in ascending expert order, keeping each row's weight", () => {
  // 3 tokens, k = 2: token 0 -> (2, 0), token 1 -> (0, 1), token 2 -> (2, 1)
  const groups = planDispatch(Int32Array.from([2, 0, 0, 1, 2, 1]), Float32Array.from([0.6, 0.4, 0.7, 0.3, 0.9, 0.1]), 2);
  assert.deepEqual(
    groups.map((g) => [g.expert, Array.from(g.rows)]),
    [
      [0, [0, 1]],
      [1, [1, 2]],
      [2, [0, 2]],
    ],
  );
  assert.deepEqual(
    Array.from(groups[2].weights).map((w) => Math.round(w * 10) / 10),
    [0.6, 0.9],
  );
});

test("gather then weighted scatter-add reproduces sum_k w_k * f_k(x) per token", () => {
  const D = 2;
  const x = Float32Array.from([1, 2, 3, 4]); // 2 tokens
  const groups = planDispatch(Int32Array.from([0, 1, 1, 0]), Float32Array.from([0.25, 0.75, 0.5, 0.5]), 2);
  const out = new Float32Array(4);
  for (const g of groups) {
    const xs = gatherRows(x, g.rows, D);
    const y = xs.map((v) => v * (g.expert + 1)); // expert e multiplies by e + 1
    scatterAddWeighted(out, y, g, D);
  }
  // token 0: 0.25*1*x + 0.75*2*x = 1.75x ; token 1: 0.5*2*x + 0.5*1*x = 1.5x
  assert.deepEqual(Array.from(out), [1.75, 3.5, 4.5, 6]);
});
