import assert from "node:assert/strict";
import { test } from "node:test";
import { accessStream, batchDemand, decodeSchedule, type TraceRouting } from "./cache-access.js";

/** A trace with L=2, E=4, k=1: token n uses expert route[n][l] at layer l. */
function traceOf(route: number[][], lengths: number[]): TraceRouting {
  let start = 0;
  const sequences = lengths.map((length) => {
    const s = { start, length };
    start += length;
    return s;
  });
  return { tokens: route.length, numLayers: 2, numExperts: 4, topK: 1, sequences, experts: Uint16Array.from(route.flat()) };
}

test("lanes decode in lockstep and take the next sequence when theirs ends", () => {
  const trace = traceOf(
    [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ],
    [3, 1, 2],
  );
  const s = decodeSchedule(trace, 2);
  assert.equal(s.steps, 3);
  assert.deepEqual([...s.tokens], [0, 3, 1, 4, 2, 5]);
  const idle = decodeSchedule(
    traceOf(
      [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
      [3],
    ),
    2,
  );
  assert.deepEqual([...idle.tokens], [0, -1, 1, -1, 2, -1]);
});

test("each layer-step accesses the union of its tokens' experts, in decode order", () => {
  const trace = traceOf(
    [
      [1, 2],
      [3, 2],
      [0, 0],
      [1, 3],
    ],
    [2, 2],
  );
  const stream = accessStream(trace, decodeSchedule(trace, 2)); // step 0: tokens 0, 2; step 1: tokens 1, 3
  const sets = Array.from({ length: stream.steps * 2 }, (_, s) => [...stream.keys.subarray(stream.offsets[s], stream.offsets[s + 1])]);
  // key = l*E + e
  assert.deepEqual(sets, [
    [0, 1],
    [4, 6],
    [1, 3],
    [6, 7],
  ]);
});

test("batch demand is the probability that at least one token of the step needs the expert", () => {
  const trace = traceOf(
    [
      [0, 0],
      [0, 0],
    ],
    [1, 1],
  );
  const schedule = decodeSchedule(trace, 2);
  const p = new Float32Array(2 * 2 * 4);
  p[0] = 0.5; // token 0, layer 0, expert 0
  p[8] = 0.25; // token 1, layer 0, expert 0
  p[8 + 5] = 1; // token 1, layer 1, expert 1
  const d = batchDemand(p, schedule, trace);
  assert.ok(Math.abs(d[0] - (1 - 0.5 * 0.75)) < 1e-6);
  assert.equal(d[5], 1);
  assert.equal(d[1], 0);
});

test("bad input names the limit", () => {
  const trace = traceOf([[0, 0]], [1]);
  assert.throws(() => decodeSchedule(trace, 0), /batch must be a positive integer, got 0/);
  assert.throws(() => batchDemand(new Float32Array(3), decodeSchedule(trace, 1), trace), /expected N\*L\*E = 1\*2\*4/);
});
