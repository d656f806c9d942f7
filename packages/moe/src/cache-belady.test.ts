import assert from "node:assert/strict";
import { test } from "node:test";
import { accessStream, batchDemand, decodeSchedule, type AccessStream } from "./cache-access.js";
import { BeladyPolicy } from "./cache-belady.js";
import { LruPolicy } from "./cache-policy.js";
import { ExpertflowPolicy } from "./cache-predictive.js";
import { simulateCache } from "./cache-sim.js";
import { makeTrace, randomChoice, seeded } from "./cache-testing.js";
import { oraclePredictions } from "./predictor-previous.js";

/**
 * The fewest loads that any schedule of evictions makes, by exhaustive search: at each layer-step every
 * needed expert must be resident at once; any subset of the other residents may be evicted first.
 */
function bruteForceLoads(stream: AccessStream, capacity: number): number {
  const S = stream.steps * stream.numLayers;
  const sets = Array.from({ length: S }, (_, s) => [...stream.keys.subarray(stream.offsets[s], stream.offsets[s + 1])]);
  const popcount = (m: number) => {
    let n = 0;
    for (; m; m &= m - 1) n++;
    return n;
  };
  const memo = new Map<number, number>();
  const go = (s: number, mask: number): number => {
    if (s === S) return 0;
    const id = s * 2 ** 16 + mask;
    const known = memo.get(id);
    if (known !== undefined) return known;
    const needMask = sets[s].reduce((m, k) => m | (1 << k), 0);
    const missing = popcount(needMask & ~mask);
    const others = mask & ~needMask;
    let best = Infinity;
    for (let x = others; ; x = (x - 1) & others) {
      const after = (mask & ~x) | needMask;
      if (popcount(after) <= capacity) best = Math.min(best, missing + go(s + 1, after));
      if (x === 0) break;
    }
    memo.set(id, best);
    return best;
  };
  return go(0, 0);
}

test("Belady makes as few loads as an exhaustive search of eviction choices, on small random traces", () => {
  const rand = seeded(2024);
  let cases = 0;
  for (let trial = 0; trial < 40; trial++) {
    const L = 1 + Math.floor(rand() * 3);
    const E = 3 + Math.floor(rand() * 2); // L*E <= 12 keys
    const k = 1 + Math.floor(rand() * 2);
    const batch = 1 + Math.floor(rand() * 2);
    const trace = makeTrace({ tokens: 8, numLayers: L, numExperts: E, topK: k, sequences: 2 }, () => randomChoice(rand, E, k));
    const stream = accessStream(trace, decodeSchedule(trace, batch));
    let widest = 0;
    for (let s = 0; s < stream.steps * L; s++) widest = Math.max(widest, stream.offsets[s + 1] - stream.offsets[s]);
    for (let capacity = widest; capacity <= Math.min(L * E, widest + 3); capacity++) {
      const r = simulateCache(stream, new BeladyPolicy(stream), { capacity, expertBytes: 1, linkBudget: 0 });
      assert.equal(r.loads, bruteForceLoads(stream, capacity), `trial ${trial}, L=${L} E=${E} k=${k} B=${batch} C=${capacity}`);
      cases++;
    }
  }
  assert.ok(cases >= 80, `only ${cases} cases`);
});

test("no policy, prefetching or not, makes fewer loads than Belady", () => {
  const rand = seeded(99);
  const trace = makeTrace({ tokens: 96, numLayers: 4, numExperts: 8, topK: 2, sequences: 4 }, () => randomChoice(rand, 8, 2));
  for (const batch of [1, 4]) {
    const schedule = decodeSchedule(trace, batch);
    const stream = accessStream(trace, schedule);
    const demand = batchDemand(oraclePredictions(trace), schedule, trace);
    for (const capacity of [8, 12, 20]) {
      const opts = { capacity, expertBytes: 1, linkBudget: 8, demand };
      const belady = simulateCache(stream, new BeladyPolicy(stream), opts);
      assert.equal(belady.stalls, belady.loads); // on demand
      const others = [new LruPolicy(), new ExpertflowPolicy({ numLayers: 4, numExperts: 8, capacity })];
      for (const policy of others) {
        const r = simulateCache(stream, policy, opts);
        assert.ok(r.loads >= belady.loads, `${r.policy} made ${r.loads} loads < Belady's ${belady.loads} (B=${batch}, C=${capacity})`);
      }
    }
  }
});
