import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "@expertmesh/moe";
import { allocateBits } from "./bit-allocation.js";

function bruteForce(cost: number[][], widths: number[], avgBits: number): number {
  const n = cost.length;
  let best = Infinity;
  const rec = (i: number, sum: number, c: number) => {
    if (i === n) {
      if (sum <= avgBits * n + 1e-9) best = Math.min(best, c);
      return;
    }
    widths.forEach((b, w) => {
      rec(i + 1, sum + b, c + cost[i][w]);
    });
  };
  rec(0, 0, 0);
  return best;
}

test("allocateBits finds the least total cost within the average-bits budget (exhaustive search on 7 experts)", () => {
  const random = seededRandom(4);
  const widths = [2, 4, 8];
  for (let trial = 0; trial < 20; trial++) {
    const cost = Array.from({ length: 7 }, () => {
      const s = random() * 3;
      return [s * 16 * random(), s * random(), s * 0.01 * random()];
    });
    const avg = 2 + random() * 5;
    const a = allocateBits(cost, widths, avg);
    assert.ok(Math.abs(a.cost - bruteForce(cost, widths, avg)) < 1e-9, `trial ${trial}`);
    assert.ok(a.meanBits <= avg + 1e-9);
    assert.ok(Math.abs(a.bits.reduce((s, b, i) => s + cost[i][widths.indexOf(b)], 0) - a.cost) < 1e-9);
  }
});

test("allocateBits rejects a budget below the smallest width", () => {
  assert.throws(() => allocateBits([[1, 0]], [2, 4], 1.5), /below the smallest width 2/);
});
