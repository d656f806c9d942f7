import assert from "node:assert/strict";
import { test } from "node:test";
import { accessStream, decodeSchedule } from "./cache-access.js";
import { BeladyPolicy } from "./cache-belady.js";
import { LruPolicy } from "./cache-policy.js";
import { simulateCache, type CachePolicy } from "./cache-sim.js";
import { makeTrace, randomChoice, seeded } from "./cache-testing.js";

// L=4, E=4, k=2: every token uses experts 0 and 1 at every layer, so one token's worth is 8 experts and
// decode order cycles through the same 8 keys.
const cycle = makeTrace({ tokens: 10, numLayers: 4, numExperts: 4, topK: 2 }, () => [0, 1]);
const cycleStream = accessStream(cycle, decodeSchedule(cycle, 1));

test("LRU misses every access once the cache holds less than one token's worth (the decode-order cycle)", () => {
  // k=1: the cycle is 4 keys; 3 slots.
  const single = makeTrace({ tokens: 10, numLayers: 4, numExperts: 4, topK: 1 }, () => [2]);
  const r1 = simulateCache(accessStream(single, decodeSchedule(single, 1)), new LruPolicy(), {
    capacity: 3,
    expertBytes: 10,
    linkBudget: 0,
  });
  assert.deepEqual([r1.accesses, r1.hits, r1.stalls, r1.loads, r1.bytes], [40, 0, 40, 40, 400]);
  // k=2: a layer's two experts are needed together, so one slot short of a token's worth still keeps one
  // of them, and a layer's worth short (6 of 8 slots) misses everything.
  const r6 = simulateCache(cycleStream, new LruPolicy(), { capacity: 6, expertBytes: 10, linkBudget: 0 });
  assert.deepEqual([r6.accesses, r6.hits, r6.stalls, r6.loads, r6.bytes], [80, 0, 80, 80, 800]);
  const r7 = simulateCache(cycleStream, new LruPolicy(), { capacity: 7, expertBytes: 10, linkBudget: 0 });
  assert.ok(r7.hits > 0 && r7.hits < 40);
});

test("Belady keeps part of the cycle where LRU keeps none", () => {
  const r = simulateCache(cycleStream, new BeladyPolicy(cycleStream), { capacity: 6, expertBytes: 10, linkBudget: 0 });
  assert.ok(r.hits >= 40, `${r.hits}`);
});

test("LRU hits everything after the first token once one token's worth fits", () => {
  const r = simulateCache(cycleStream, new LruPolicy(), { capacity: 8, expertBytes: 10, linkBudget: 0 });
  assert.equal(r.stalls, 8);
  assert.equal(r.hits, 72);
  assert.equal(r.hitRatio, 0.9);
});

/** A policy that checks the simulator's contract: evicts only what it was offered, never over capacity. */
class CheckingLru extends LruPolicy implements CachePolicy {
  resident = new Set<number>();
  maxResident = 0;
  override insert(k: number): void {
    assert.ok(!this.resident.has(k), `inserted ${k} twice`);
    this.resident.add(k);
    this.maxResident = Math.max(this.maxResident, this.resident.size);
    super.insert(k);
  }
  override remove(k: number): void {
    assert.ok(this.resident.delete(k), `removed ${k}, not resident`);
    super.remove(k);
  }
  *prefetch(layer: number): Iterable<number> {
    yield layer * 6 + 5; // always prefetch expert 5 of the coming layer
    yield layer * 6 + 4;
  }
}

test("counters add up and the tier never exceeds its capacity", () => {
  const rand = seeded(7);
  const trace = makeTrace({ tokens: 64, numLayers: 3, numExperts: 6, topK: 2, sequences: 4 }, () => randomChoice(rand, 6, 2));
  for (const batch of [1, 4]) {
    for (const capacity of [2, 5, 9]) {
      const policy = new CheckingLru();
      const r = simulateCache(accessStream(trace, decodeSchedule(trace, batch)), policy, { capacity, expertBytes: 3, linkBudget: 1 });
      assert.equal(r.hits + r.stalls, r.accesses);
      assert.equal(r.stalls, r.demandLoads);
      assert.equal(r.loads, r.demandLoads + r.prefetchLoads);
      assert.equal(r.bytes, 3 * r.loads);
      assert.ok(r.prefetchLoads > 0 && r.wastedPrefetches <= r.prefetchLoads);
      assert.ok(policy.maxResident <= capacity, `held ${policy.maxResident} > ${capacity}`);
    }
  }
});

test("bad options name the limit and the value", () => {
  assert.throws(
    () => simulateCache(cycleStream, new LruPolicy(), { capacity: 0, expertBytes: 1, linkBudget: 0 }),
    /capacity must be a positive integer, got 0/,
  );
  assert.throws(
    () => simulateCache(cycleStream, new LruPolicy(), { capacity: 2, expertBytes: 1, linkBudget: -1 }),
    /link budget must be a non-negative integer, got -1/,
  );
  assert.throws(
    () => simulateCache(cycleStream, new LruPolicy(), { capacity: 2, expertBytes: 1, linkBudget: 0, demand: new Float32Array(5) }),
    /demand has 5 values, expected S\*L\*E = 10\*4\*4/,
  );
});
