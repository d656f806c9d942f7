import assert from "node:assert/strict";
import { test } from "node:test";
import { ExpertflowTimePolicy } from "./cache-expertflow.js";

/** Exposes the corrected demand of one expert. */
class Probe extends ExpertflowTimePolicy {
  demandNow(key: number): number {
    return this.demandOf(key);
  }
}

test("pre-gate correction in odds: raises the experts it names, lowers the others, by rates learned online", () => {
  const p = new Probe({ numLayers: 2, numExperts: 4, capacity: 2 });
  const demand = new Float32Array(8).fill(0.5);
  const named = Float32Array.from([1, 1, 0, 0]);
  // 50 steps in which layer 0 used exactly the two experts the correction named.
  for (let t = 0; t < 50; t++) {
    p.beginStep(t, demand);
    p.beginLayer(0);
    p.correct(0, named);
    p.beginAccess(0, Int32Array.from([0, 1]));
    p.layerRan(0, Int32Array.from([0, 1]));
  }
  p.beginStep(50, demand);
  p.beginLayer(0);
  p.correct(0, named);
  assert.ok(p.demandNow(0) > 0.9, `named: ${p.demandNow(0)}`);
  assert.ok(p.demandNow(2) < 0.1, `not named: ${p.demandNow(2)}`);
  assert.equal(p.demandNow(4), 0.5, "layer 1 had no correction this step: the predictor's p");
  p.beginStep(51, demand);
  assert.equal(p.demandNow(0), 0.5, "a correction holds for its step only");
});

test("a correction of the wrong length is refused, naming E", () => {
  const p = new Probe({ numLayers: 2, numExperts: 4, capacity: 2 });
  p.beginStep(0, new Float32Array(8));
  assert.throws(() => p.correct(0, new Float32Array(3)), /3 values, expected E = 4/);
});
