import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "@expertmesh/moe";
import { maxAssignment } from "./hungarian.js";

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

test("maxAssignment reaches the best total score of all permutations (exhaustive, n = 1..6)", () => {
  const random = seededRandom(12);
  for (let n = 1; n <= 6; n++) {
    for (let trial = 0; trial < 10; trial++) {
      const s = Float64Array.from({ length: n * n }, () => random() * 10 - 5);
      const p = maxAssignment(s, n);
      assert.deepEqual(
        [...p].sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i),
        "a permutation",
      );
      const total = (q: ArrayLike<number>) => Array.from({ length: n }, (_, i) => s[i * n + q[i]]).reduce((a, b) => a + b, 0);
      const best = Math.max(...permutations(n).map(total));
      assert.ok(Math.abs(total(p) - best) < 1e-9, `n=${n} trial ${trial}: ${total(p)} vs ${best}`);
    }
  }
});

test("maxAssignment recovers a hidden permutation of a diagonal-dominant score", () => {
  const n = 50;
  const hidden = Array.from({ length: n }, (_, i) => (i * 17 + 5) % n);
  const s = new Float64Array(n * n).fill(0.1);
  hidden.forEach((j, i) => {
    s[i * n + j] = 1;
  });
  assert.deepEqual(Array.from(maxAssignment(s, n)), hidden);
});
