import assert from "node:assert/strict";
import { test } from "node:test";
import { DecodeSchedule } from "./decode-schedule.js";

const shape = { numLayers: 2, numExperts: 16, topK: 2 };
const members = (n: number) => Array.from({ length: n }, (_, id) => ({ id }));
const ids = (batches: { id: number }[][]) => batches.map((b) => b.map((m) => m.id));

/** Feeds one decode step's routing (one token per member): member i uses `experts(i)` at every layer. */
function route(s: DecodeSchedule, ms: object[], experts: (i: number) => [number, number]) {
  const record = s.recorder(
    ms,
    ms.map(() => 1),
  )!;
  for (let layer = 0; layer < shape.numLayers; layer++)
    record({ layer, experts: Int32Array.from(ms.flatMap((_, i) => experts(i))), weights: new Float32Array(ms.length * 2) });
}

test("without a step batch, or with no more sequences than it, all running sequences decode in one step", () => {
  assert.deepEqual(ids(new DecodeSchedule({ mode: "regroup", stepBatch: 0 }, shape).plan(members(5))), [[0, 1, 2, 3, 4]]);
  assert.deepEqual(ids(new DecodeSchedule({ mode: "regroup", stepBatch: 8 }, shape).plan(members(5))), [[0, 1, 2, 3, 4]]);
  assert.deepEqual(new DecodeSchedule({ mode: "arrival", stepBatch: 2 }, shape).plan([]), []);
});

test("arrival order cuts the running sequences into consecutive steps of T", () => {
  assert.deepEqual(ids(new DecodeSchedule({ mode: "arrival", stepBatch: 2 }, shape).plan(members(5))), [[0, 1], [2, 3], [4]]);
});

test("regroup puts sequences whose last tokens used the same experts in the same step", () => {
  const s = new DecodeSchedule({ mode: "regroup", stepBatch: 3 }, shape);
  const ms = members(6);
  route(s, ms, (i) => (i % 2 === 0 ? [0, 1] : [8, 9]));
  assert.deepEqual(ids(s.plan(ms)), [
    [0, 2, 4],
    [1, 3, 5],
  ]);
});

test("regroup without any routing yet keeps arrival order", () => {
  assert.deepEqual(ids(new DecodeSchedule({ mode: "regroup", stepBatch: 2 }, shape).plan(members(4))), [
    [0, 1],
    [2, 3],
  ]);
});

test("the recorder keeps each member's last token of a prefill step (tokens in member order)", () => {
  const s = new DecodeSchedule({ mode: "regroup", stepBatch: 2 }, shape);
  const [a, b, c] = members(3);
  const record = s.recorder([a, b], [3, 2])!;
  // 5 valid tokens: a's at rows 0..2, b's at rows 3..4; the last ones are rows 2 (experts 4, 5) and 4 (8, 9).
  for (let layer = 0; layer < 2; layer++)
    record({ layer, experts: Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), weights: new Float32Array(10) });
  route(s, [c], () => [4, 5]); // c decoded a token with a's last experts
  assert.deepEqual(ids(s.plan([a, b, c])), [[0, 2], [1]]);
});

test("arrival mode records nothing, and a bad step batch names the value", () => {
  assert.equal(new DecodeSchedule({ mode: "arrival", stepBatch: 2 }, shape).recorder([{}], [1]), undefined);
  assert.throws(() => new DecodeSchedule({ mode: "arrival", stepBatch: -1 }, shape), /step batch must be a non-negative integer, got -1/);
});
