import assert from "node:assert/strict";
import { test } from "node:test";
import { accessStream, batchDemand, decodeSchedule } from "./cache-access.js";
import { LruPolicy } from "./cache-policy.js";
import { ExpertflowPolicy, shareSlots } from "./cache-predictive.js";
import { simulateCache } from "./cache-sim.js";
import { makeTrace, randomChoice, seeded } from "./cache-testing.js";
import { oraclePredictions } from "./predictor-previous.js";

const L = 4;
const E = 8;

function randomTrace(seed: number, tokens = 128) {
  const rand = seeded(seed);
  return makeTrace({ tokens, numLayers: L, numExperts: E, topK: 2, sequences: 8 }, () => randomChoice(rand, E, 2));
}

test("shareSlots splits in proportion to demand, by largest remainders, not evenly", () => {
  assert.deepEqual(shareSlots(8, [3, 1]), [6, 2]);
  assert.deepEqual(shareSlots(10, [1, 1, 2]), [3, 2, 5]);
  assert.deepEqual(shareSlots(7, [0, 2, 0]), [0, 7, 0]);
  assert.deepEqual(shareSlots(5, [0, 0]), [0, 0]);
  for (const [total, demand] of [
    [9, [0.3, 1.7, 2.2]],
    [16, [5, 5, 5]],
    [3, [0.1, 0.1, 0.1, 0.1]],
  ] as const) {
    const s = shareSlots(total, [...demand]);
    assert.equal(
      s.reduce((a, n) => a + n, 0),
      total,
    );
    const sum = demand.reduce((a, d) => a + d, 0);
    for (const [i, n] of s.entries()) assert.ok(Math.abs(n - (total * demand[i]) / sum) < 1, `share ${i}: ${n}`);
  }
  assert.throws(() => shareSlots(-1, [1]), /total must be a non-negative integer, got -1/);
});

test("window slots go first to the coming layer, the rest to later layers in proportion to their demand", () => {
  const policy = new ExpertflowPolicy({ numLayers: 3, numExperts: 4, capacity: 10 });
  const p = new Float32Array(3 * 4);
  p.set([1, 1, 0, 0], 0); // layer 0: 2 predicted
  p.set([0.9, 0.9, 0.9, 0.3], 4); // layer 1: demand 3.0, 4 predicted
  p.set([1, 0.5, 0, 0], 8); // layer 2: demand 1.5, 2 predicted
  policy.beginStep(0, p);
  policy.beginLayer(0);
  assert.deepEqual(policy.shares(0), [2, 4, 2]); // 8 left: 16/3 and 8/3 capped at the predicted counts
  policy.layerRan(0, Int32Array.from([0, 1]));
  policy.beginLayer(1);
  assert.deepEqual(policy.shares(1), [4, 2]); // 10 - 2 pinned by layer 0
  const small = new ExpertflowPolicy({ numLayers: 3, numExperts: 4, capacity: 5 });
  small.beginStep(0, p);
  small.beginLayer(0);
  assert.deepEqual(small.shares(0), [2, 2, 1]); // 3 left shared 3.0 : 1.5
});

test("with a perfect predictor and enough link budget, expertflow never stalls", () => {
  const trace = randomTrace(5);
  for (const batch of [1, 4]) {
    const schedule = decodeSchedule(trace, batch);
    const stream = accessStream(trace, schedule);
    const demand = batchDemand(oraclePredictions(trace), schedule, trace);
    const widest = 2 * batch;
    const r = simulateCache(stream, new ExpertflowPolicy({ numLayers: L, numExperts: E, capacity: 2 * widest }), {
      capacity: 2 * widest,
      expertBytes: 1,
      linkBudget: widest,
      demand,
    });
    assert.equal(r.stalls, 0, `B=${batch}`);
    assert.ok(r.loads <= r.accesses);
    // Without a link there is nothing to prefetch with, and it stalls.
    const noLink = simulateCache(stream, new ExpertflowPolicy({ numLayers: L, numExperts: E, capacity: 2 * widest }), {
      capacity: 2 * widest,
      expertBytes: 1,
      linkBudget: 0,
      demand,
    });
    assert.ok(noLink.stalls > 0);
  }
});

test("with a useless predictor, expertflow prefetches nothing and does no worse than LRU", () => {
  const trace = randomTrace(11, 2048);
  const schedule = decodeSchedule(trace, 1);
  const stream = accessStream(trace, schedule);
  for (const capacity of [6, 16]) {
    const opts = { capacity, expertBytes: 1, linkBudget: 4 };
    const lru = simulateCache(stream, new LruPolicy(), opts);
    const zero = simulateCache(stream, new ExpertflowPolicy({ numLayers: L, numExperts: E, capacity }), {
      ...opts,
      demand: new Float32Array(schedule.steps * L * E),
    });
    assert.equal(zero.prefetchLoads, 0);
    assert.ok(zero.hitRatio >= lru.hitRatio - 0.01, `C=${capacity}: ${zero.hitRatio} vs LRU ${lru.hitRatio}`);
    // Nor much better: with nothing predicted it only keeps the experts just used (random hits at most C/(L*E)).
    assert.ok(zero.hitRatio <= capacity / (L * E) + 0.05, `C=${capacity}: ${zero.hitRatio}`);
    // Uniform demand: every expert "predicted" alike; it spends the link on guesses (hits bought with
    // wasted loads), still no worse than LRU.
    const uniform = new Float32Array(schedule.steps * L * E).fill(2 / E);
    const flat = simulateCache(stream, new ExpertflowPolicy({ numLayers: L, numExperts: E, capacity }), { ...opts, demand: uniform });
    assert.ok(flat.hitRatio >= lru.hitRatio - 0.01, `C=${capacity}: ${flat.hitRatio} vs LRU ${lru.hitRatio}`);
    assert.ok(flat.wastedPrefetches > 0);
  }
});

test("an expert loaded ahead on the prediction but not chosen by the gate is evicted before any other", () => {
  const policy = new ExpertflowPolicy({ numLayers: 2, numExperts: 4, capacity: 3 });
  const p = new Float32Array(8);
  p[0] = 0.9; // layer 0, expert 0: predicted
  policy.beginStep(0, p);
  policy.beginLayer(0);
  policy.insert(0); // prefetched on the prediction
  policy.insert(5); // layer 1, expert 1: not predicted, loaded on demand earlier (touched)
  policy.touch(5);
  policy.beginAccess(0, Int32Array.from([1])); // the gate chose expert 1, not 0
  policy.insert(1);
  policy.touch(1);
  // By expected next use alone, key 5 (its layer comes next, but nothing predicts it) would go first.
  assert.ok(policy.distance(5) > policy.distance(0));
  assert.equal(
    policy.victim(() => true),
    0,
  );
  assert.equal(
    policy.victim((k) => k !== 0 && k !== 1),
    5,
  ); // 1 is in use (pinned in a cache)
  policy.layerRan(0, Int32Array.from([1]));
  // A new prediction for layer 0 lifts the demotion when layer 0 comes up again.
  policy.beginStep(1, p);
  policy.beginLayer(0);
  assert.equal(
    policy.victim(() => true),
    5,
  );
});

test("learned-Belady eviction keeps the experts predicted for the coming layers", () => {
  const policy = new ExpertflowPolicy({ numLayers: 2, numExperts: 4, capacity: 2 });
  const p = new Float32Array(8);
  p[4 + 2] = 0.8; // layer 1, expert 2
  policy.beginStep(0, p);
  policy.beginLayer(0);
  policy.insert(6); // layer 1, expert 2 (predicted)
  policy.insert(7); // layer 1, expert 3 (not predicted), more recent
  assert.equal(
    policy.victim(() => true),
    7,
  );
  const lru = new ExpertflowPolicy({ numLayers: 2, numExperts: 4, capacity: 2, eviction: "lru" });
  lru.beginStep(0, p);
  lru.insert(6);
  lru.insert(7);
  assert.equal(
    lru.victim(() => true),
    6,
  );
});
