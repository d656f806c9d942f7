import assert from "node:assert/strict";
import { test } from "node:test";
import { buildNextStepTable, nextStepPredictions } from "./predictor-next.js";

// L=1, E=3, k=1. Sequence 0: tokens 5, 7, 5 choosing experts 0, 1, 2; sequence 1: tokens 5, 9 choosing 1, 0.
// Pairs (token -> its successor's expert): 5 -> 1, 7 -> 2, 5 -> 0 (sequence 1); the last token of
// sequence 0 (5) is not paired with the first of sequence 1. Successors' experts: 1, 2, 0: prior 1/3 each.
const trace = {
  tokens: 5,
  numLayers: 1,
  numExperts: 3,
  topK: 1,
  tokenIds: Int32Array.from([5, 7, 5, 5, 9]),
  experts: Uint16Array.from([0, 1, 2, 1, 0]),
  sequences: [
    { start: 0, length: 3 },
    { start: 3, length: 2 },
  ],
};

test("next-step table by hand: successor counts within sequences, smoothed toward the prior", () => {
  const t = buildNextStepTable([trace], 1);
  assert.equal(t.pairs, 3);
  assert.equal(t.vocab, 10);
  const row = (v: number) => Array.from(t.probabilities.subarray(v * 3, v * 3 + 3));
  const close = (a: number[], b: number[]) =>
    a.forEach((x, i) => {
      assert.ok(Math.abs(x - b[i]) < 1e-6, `${a} vs ${b}`);
    });
  // token 5 followed twice (experts 1 and 0): (c + 1/3) / (2 + 1)
  close(row(5), [(1 + 1 / 3) / 3, (1 + 1 / 3) / 3, 1 / 3 / 3]);
  close(row(7), [1 / 3 / 2, 1 / 3 / 2, (1 + 1 / 3) / 2]);
  close(row(9), [1 / 3, 1 / 3, 1 / 3]); // never followed: the prior
  close(row(10), [1 / 3, 1 / 3, 1 / 3]); // the prior row
  const p = nextStepPredictions(t, [7, 42, -1]);
  close(Array.from(p.subarray(0, 3)), row(7));
  close(Array.from(p.subarray(3, 6)), row(10));
  close(Array.from(p.subarray(6, 9)), row(10));
});

test("each row of the next-step table sums to k", () => {
  const t = buildNextStepTable([{ ...trace, topK: 1 }]);
  for (let v = 0; v <= t.vocab; v++) {
    const s = t.probabilities.subarray(v * 3, v * 3 + 3).reduce((a, x) => a + x, 0);
    assert.ok(Math.abs(s - 1) < 1e-6, `row ${v} sums to ${s}`);
  }
});

test("next-step table refuses traces that disagree or cannot pair, naming why", () => {
  assert.throws(() => buildNextStepTable([]), /no traces/);
  assert.throws(() => buildNextStepTable([trace, { ...trace, numExperts: 4 }]), /trace 1 has L=1 E=4 k=1, trace 0 has L=1 E=3 k=1/);
  assert.throws(() => buildNextStepTable([{ ...trace, sequences: [{ start: 0, length: 1 }] }]), /no token is followed/);
  assert.throws(() => buildNextStepTable([trace], 0), /pseudo-count must be > 0, got 0/);
});
