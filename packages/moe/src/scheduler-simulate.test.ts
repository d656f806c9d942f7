import assert from "node:assert/strict";
import { test } from "node:test";
import type { ExpertChoices } from "./predictor-metrics.js";
import { simulateScheduling } from "./scheduler-simulate.js";

// Four sequences of 3 tokens, admitted A, B, C, D; A and C always use experts {0, 1}, B and D {8, 9}
// (both layers). W = 4, T = 2: arrival batches {A, B} {C, D} see 4 experts each; regrouped {A, C} {B, D} 2.
function clusteredTrace(): ExpertChoices {
  const L = 2,
    k = 2,
    N = 12;
  const experts = new Uint16Array(N * L * k);
  for (let t = 0; t < N; t++) {
    const base = Math.floor(t / 3) % 2 === 0 ? 0 : 8;
    for (let l = 0; l < L; l++) experts.set([base, base + 1], (t * L + l) * k);
  }
  return { tokens: N, numLayers: L, numExperts: 16, topK: k, experts };
}
const sequences = [0, 3, 6, 9].map((start) => ({ start, length: 3 }));

test("replayed windows charge arrival order, regrouping and the lower bound the distinct experts of each batch", () => {
  const truth = clusteredTrace();
  const r = simulateScheduling(truth, {
    batchSize: 2,
    windowBatches: 2,
    sequences,
    methods: ["hamming", "regroup"],
    sources: [
      { name: "oracle", experts: truth.experts, topK: 2, lag: 0 },
      { name: "previous", experts: truth.experts, topK: 2, lag: 1 },
    ],
    exactEvery: 1,
  });
  assert.equal(r.windows, 2); // each sequence decodes its 2nd and 3rd token
  assert.deepEqual(r.arrival.perLayer, [4, 4]);
  assert.deepEqual(r.lowerBound.perLayer, [2, 2]);
  assert.equal(r.lowerBound.ratio, 0.5);
  for (const s of r.schedules) {
    assert.deepEqual(s.perLayer, [2, 2], `${s.source} ${s.method}`);
    assert.equal(s.ratio, 0.5);
  }
  assert.deepEqual(r.exact, { windows: 2, arrival: 4, optimum: 2, regroupOracle: 2 });
});

test("a finished sequence's slot goes to the next one, and only full windows count", () => {
  const truth = clusteredTrace();
  // W = 2: A and B decode 2 windows, then C and D 2 more; a lone leftover never forms a window.
  const r = simulateScheduling(truth, {
    batchSize: 1,
    windowBatches: 2,
    sequences: [...sequences, { start: 0, length: 2 }],
    methods: ["regroup"],
    sources: [{ name: "oracle", experts: truth.experts, topK: 2, lag: 0 }],
  });
  assert.equal(r.windows, 4);
  assert.equal(r.schedules[0].ratio, 1); // batches of one: nothing to regroup
});

test("bad options name the limit and the value", () => {
  const truth = clusteredTrace();
  const base = { batchSize: 2, windowBatches: 2, sequences, methods: ["regroup"] as const, sources: [] };
  assert.throws(() => simulateScheduling(truth, { ...base, batchSize: 0 }), /T=0 must be a positive integer/);
  assert.throws(() => simulateScheduling(truth, { ...base, windowBatches: 1 }), /M=1 must be an integer of at least 2/);
  assert.throws(() => simulateScheduling(truth, { ...base, sequences: [{ start: 10, length: 5 }] }), /outside the trace \(N=12\)/);
  assert.throws(
    () => simulateScheduling(truth, { ...base, sources: [{ name: "x", experts: new Uint16Array(3), topK: 2, lag: 0 }] }),
    /source x has 3 experts, expected N\*L\*k' = 12\*2\*2/,
  );
});
