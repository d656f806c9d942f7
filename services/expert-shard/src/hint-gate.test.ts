import assert from "node:assert/strict";
import { test } from "node:test";
import { PrefetchHint } from "@expertmesh/proto";
import { MeshMetrics } from "@expertmesh/runtime";
import { HintGate } from "./hint-gate.js";

const model = { numLayers: 4, numExperts: 8 };
const hint = (layer: number, expertIds: number[]) =>
  PrefetchHint.encode({ layer, expertIds, scores: expertIds.map(() => 0.5), step: 1, correction: false }).finish();
const limits = { maxHintBytes: 1024, hintRate: 1_000, hintExpertRate: 1_000 };

test("a well-formed hint within the limits is passed on", () => {
  const gate = new HintGate(limits, model);
  assert.deepEqual(gate.admit(hint(2, [1, 5]))?.expertIds, [1, 5]);
  assert.equal(gate.expertsAdmitted, 2);
});

test("a hint larger than maxHintBytes is dropped without decoding", () => {
  const gate = new HintGate({ ...limits, maxHintBytes: 8 }, model);
  assert.equal(gate.admit(hint(0, [1, 2, 3])), undefined);
  assert.equal(gate.counts.oversized, 1);
});

test("hints beyond the rate's one-second burst are dropped and counted in metrics", async () => {
  const metrics = new MeshMetrics();
  const gate = new HintGate({ ...limits, hintRate: 10 }, model, metrics);
  let passed = 0;
  for (let i = 0; i < 1_000; i++) if (gate.admit(hint(0, [1]))) passed++;
  assert.ok(passed >= 10 && passed <= 12, `passed ${passed} of 1000 with a 10/s bucket`);
  const limited = (await metrics.hintsReceived.get()).values.find((v) => v.labels.outcome === "rate_limited")?.value;
  assert.equal(limited, 1_000 - passed);
});

test("the experts named by hints are bounded per second, whatever the hint count", () => {
  const gate = new HintGate({ ...limits, hintExpertRate: 20 }, model);
  for (let i = 0; i < 100; i++) gate.admit(hint(i % 4, [0, 1, 2, 3, 4, 5, 6, 7]));
  assert.ok(gate.expertsAdmitted <= 24, `admitted ${gate.expertsAdmitted} experts with a 20/s budget`);
});

test("a hint naming a layer or expert out of range, or garbage bytes, is malformed", () => {
  const gate = new HintGate(limits, model);
  assert.equal(gate.admit(hint(4, [0])), undefined);
  assert.equal(gate.admit(hint(0, [8])), undefined);
  assert.equal(gate.admit(Uint8Array.from([0xff, 0xff, 0xff])), undefined);
  assert.equal(gate.counts.malformed, 3);
});
