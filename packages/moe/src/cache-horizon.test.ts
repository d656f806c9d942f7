import assert from "node:assert/strict";
import { test } from "node:test";
import { accessStream, decodeSchedule } from "./cache-access.js";
import { BeladyPolicy } from "./cache-belady.js";
import { HorizonOraclePolicy } from "./cache-horizon.js";
import { LruPolicy } from "./cache-policy.js";
import { simulateCache } from "./cache-sim.js";
import { makeTrace, randomChoice, seeded } from "./cache-testing.js";

const ON_DEMAND = { expertBytes: 1, linkBudget: 0 };

test("a horizon as long as the stream makes Belady's loads; horizon 0 no fewer", () => {
  const rand = seeded(7);
  const trace = makeTrace({ tokens: 120, numLayers: 3, numExperts: 8, topK: 2, sequences: 4 }, () => randomChoice(rand, 8, 2));
  for (const batch of [1, 3]) {
    const stream = accessStream(trace, decodeSchedule(trace, batch));
    for (const capacity of [6, 10]) {
      const opts = { capacity, ...ON_DEMAND };
      const belady = simulateCache(stream, new BeladyPolicy(stream), opts).loads;
      const whole = simulateCache(stream, new HorizonOraclePolicy(stream, stream.steps), opts).loads;
      const none = simulateCache(stream, new HorizonOraclePolicy(stream, 0), opts).loads;
      assert.equal(whole, belady, `B=${batch} C=${capacity}`);
      assert.ok(none >= belady, `horizon[0] made ${none} loads < Belady's ${belady}`);
    }
  }
});

test("horizon 0 cannot see the next step: it evicts as LRU where only the next step would tell, Belady does not", () => {
  // L=2, E=4, k=1; keys l*4 + e. Token 0 needs 0, 4; token 1: 1, 5; token 2: 0, 4. C = 2.
  // Step 1, layer 0 needs 1 with 0 and 4 resident: neither is used in step 1, so horizon[0] evicts the
  // least recently used (0); Belady evicts 4 (used later than 0) and saves one load in step 2.
  const trace = makeTrace({ tokens: 3, numLayers: 2, numExperts: 4, topK: 1 }, (n) => [[0, 1, 0][n]]);
  const stream = accessStream(trace, decodeSchedule(trace, 1));
  const opts = { capacity: 2, ...ON_DEMAND };
  const victims: number[] = [];
  const h0 = new HorizonOraclePolicy(stream, 0);
  const victim = h0.victim.bind(h0);
  h0.victim = (ev) => {
    const v = victim(ev);
    if (v !== undefined) victims.push(v);
    return v;
  };
  const r0 = simulateCache(stream, h0, opts);
  assert.equal(victims[0], 0, `first victim ${victims[0]}`);
  const lru = simulateCache(stream, new LruPolicy(), opts);
  assert.equal(r0.loads, lru.loads); // nothing in the step tells 0 from 4: the same choices as LRU
  assert.ok(simulateCache(stream, new BeladyPolicy(stream), opts).loads < r0.loads);
});

test("its choices in step t do not depend on the routing after step t + h", () => {
  const rand = seeded(11);
  const base = Array.from({ length: 40 }, () => [0, 1, 2].map(() => randomChoice(rand, 6, 2)));
  const other = base.map((row, n) => (n < 25 ? row : [0, 1, 2].map(() => randomChoice(rand, 6, 2))));
  const victimsOf = (rows: number[][][], h: number) => {
    const trace = makeTrace({ tokens: 40, numLayers: 3, numExperts: 6, topK: 2 }, (n, l) => rows[n][l]);
    const stream = accessStream(trace, decodeSchedule(trace, 1));
    const p = new HorizonOraclePolicy(stream, h);
    const out: [number, number][] = [];
    let step = 0;
    const begin = p.beginStep.bind(p);
    p.beginStep = (t: number) => {
      step = t;
      begin(t);
    };
    const victim = p.victim.bind(p);
    p.victim = (ev) => {
      const v = victim(ev);
      if (v !== undefined) out.push([step, v]);
      return v;
    };
    simulateCache(stream, p, { capacity: 5, ...ON_DEMAND });
    return out;
  };
  for (const h of [0, 2]) {
    const before = (v: [number, number][]) => v.filter(([t]) => t + h < 25);
    assert.deepEqual(before(victimsOf(base, h)), before(victimsOf(other, h)), `h=${h}`);
    assert.ok(before(victimsOf(base, h)).length > 10);
  }
});

test("a negative or fractional horizon is refused, naming the value", () => {
  const trace = makeTrace({ tokens: 2, numLayers: 1, numExperts: 2, topK: 1 }, (n) => [n]);
  const stream = accessStream(trace, decodeSchedule(trace, 1));
  assert.throws(() => new HorizonOraclePolicy(stream, -1), /horizon must be a non-negative integer of decode steps, got -1/);
  assert.throws(() => new HorizonOraclePolicy(stream, 0.5), /got 0.5/);
});
