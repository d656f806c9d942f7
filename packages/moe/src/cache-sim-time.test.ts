import assert from "node:assert/strict";
import { test } from "node:test";
import { accessStream, decodeSchedule, type AccessStream } from "./cache-access.js";
import { BeladyPolicy } from "./cache-belady.js";
import { ExpertflowTimePolicy } from "./cache-expertflow.js";
import { LruPolicy } from "./cache-policy.js";
import type { CachePolicy } from "./cache-sim.js";
import { simulateTimed, timeLowerBound } from "./cache-sim-time.js";
import { makeTrace, randomChoice, seeded } from "./cache-testing.js";
import { buildNextStepTable, nextStepPredictions } from "./predictor-next.js";
import { oraclePredictions } from "./predictor-previous.js";
import { batchDemand } from "./cache-access.js";

// x = X / G: 2e6 bytes over 1 GB/s is 2 ms a load.
const LINK = { expertBytes: 2e6, linkGbps: 1 };

test("LRU on a hand-made stream: every load waits for the link, compute follows (times by hand)", () => {
  // 1 layer, E=2, k=1, C=1, experts 0, 1, 0: load 0 [0,2] compute [2,3]; load 1 [3,5] compute [5,6];
  // load 0 [6,8] compute [8,9]. 9 ms, 6 of them stalled, 3 loads.
  const trace = makeTrace({ tokens: 3, numLayers: 1, numExperts: 2, topK: 1 }, (n) => [n % 2]);
  const r = simulateTimed(accessStream(trace, decodeSchedule(trace, 1)), () => new LruPolicy(), { capacity: 1, layerMs: 1, ...LINK });
  assert.deepEqual([r.timeMs, r.stallMs, r.loads, r.demandLoads, r.stalls, r.bytes], [9, 6, 3, 3, 3, 6e6]);
  assert.equal(r.msPerToken, 3);
  assert.equal(r.stallShare, 6 / 9);
});

/**
 * A policy whose every choice (which expert to evict, which one expert to prefetch per window, or none)
 * comes from a script; it records how many options each choice had, so that an odometer over scripts
 * visits every policy of that family.
 */
class Scripted implements CachePolicy {
  readonly name = "scripted";
  readonly arity: number[] = [];
  private at = 0;
  private readonly resident = new Set<number>();
  constructor(
    private readonly script: readonly number[],
    private readonly K: number,
  ) {}
  private choose(n: number): number {
    this.arity.push(n);
    return this.script[this.at++] ?? 0;
  }
  touch(): void {}
  insert(k: number): void {
    this.resident.add(k);
  }
  remove(k: number): void {
    this.resident.delete(k);
  }
  victim(evictable: (k: number) => boolean): number | undefined {
    const options = [...this.resident].filter(evictable).sort((a, b) => a - b);
    return options.length === 0 ? undefined : options[this.choose(options.length)];
  }
  *prefetch(_layer: number, isResident: (k: number) => boolean): Iterable<number> {
    const absent = Array.from({ length: this.K }, (_, k) => k).filter((k) => !isResident(k));
    const c = this.choose(absent.length + 1);
    if (c > 0) yield absent[c - 1];
  }
}

/** The fewest loads and the least time over every scripted policy (exhaustive). */
function bruteForce(stream: AccessStream, opts: { capacity: number; layerMs: number }) {
  const K = stream.numLayers * stream.numExperts;
  let script: number[] = [];
  let best = { timeMs: Infinity, loads: Infinity, runs: 0 };
  for (;;) {
    let policy: Scripted | undefined;
    const r = simulateTimed(stream, () => (policy = new Scripted(script, K)), { ...opts, ...LINK });
    best = { timeMs: Math.min(best.timeMs, r.timeMs), loads: Math.min(best.loads, r.loads), runs: best.runs + 1 };
    const arity = policy!.arity;
    const full = arity.map((_, i) => script[i] ?? 0);
    let i = full.length - 1;
    while (i >= 0 && full[i] >= arity[i] - 1) i--;
    if (i < 0) return best;
    script = [...full.slice(0, i), full[i] + 1];
  }
}

test("the lower bound (Belady's loads with perfect overlap) holds against an exhaustive search over policies", () => {
  const rand = seeded(7);
  for (let c = 0; c < 4; c++) {
    const trace = makeTrace({ tokens: 2, numLayers: 2, numExperts: 3, topK: 1 }, () => randomChoice(rand, 3, 1));
    const stream = accessStream(trace, decodeSchedule(trace, 1));
    for (const layerMs of [c % 2 === 0 ? 0.5 : 3]) {
      const opts = { capacity: 2, layerMs };
      const belady = simulateTimed(stream, () => new BeladyPolicy(stream), { ...opts, ...LINK });
      const bound = timeLowerBound(stream, [belady.loads], { ...LINK, layerMs });
      const best = bruteForce(stream, opts);
      assert.ok(best.runs > 10, `only ${best.runs} policies searched`);
      assert.ok(bound <= best.timeMs + 1e-9, `case ${c}, τ=${layerMs}: bound ${bound} ms above the best policy's ${best.timeMs} ms`);
      assert.ok(best.loads >= belady.loads, `case ${c}: a policy made ${best.loads} loads, fewer than Belady's ${belady.loads}`);
      assert.ok(belady.timeMs >= bound - 1e-9);
    }
  }
});

test("with compute longer than a transfer and an exact prediction, expertflow hides loads that LRU waits for", () => {
  // L=4, E=4, k=1: each token uses expert (n + l) mod 4 at layer l; 8 slots hold half the experts.
  const trace = makeTrace({ tokens: 40, numLayers: 4, numExperts: 4, topK: 1 }, (n, l) => [(n + l) % 4]);
  const schedule = decodeSchedule(trace, 1);
  const stream = accessStream(trace, schedule);
  const opts = { capacity: 8, layerMs: 3, ...LINK, demand: batchDemand(oraclePredictions(trace), schedule, trace) };
  const lru = simulateTimed(stream, () => new LruPolicy(), opts);
  const ef = simulateTimed(stream, () => new ExpertflowTimePolicy({ numLayers: 4, numExperts: 4, capacity: 8 }), opts);
  assert.ok(ef.prefetchLoads > 0);
  assert.ok(ef.stallMs < lru.stallMs, `expertflow stalled ${ef.stallMs} ms, LRU ${lru.stallMs} ms`);
  assert.equal(ef.loads, ef.demandLoads + ef.prefetchLoads);
});

test("bad options are refused, naming the option and the value", () => {
  const trace = makeTrace({ tokens: 2, numLayers: 1, numExperts: 2, topK: 1 }, () => [0]);
  const stream = accessStream(trace, decodeSchedule(trace, 1));
  assert.throws(
    () => simulateTimed(stream, () => new LruPolicy(), { capacity: 0, layerMs: 1, ...LINK }),
    /capacity must be a positive integer, got 0/,
  );
  assert.throws(
    () => simulateTimed(stream, () => new LruPolicy(), { capacity: 1, layerMs: 1, expertBytes: 1, linkGbps: 0 }),
    /linkGbps must be > 0, got 0/,
  );
  assert.throws(
    () => simulateTimed(stream, () => new LruPolicy(), { capacity: 1, layerMs: 1, ...LINK, demand: new Float32Array(3) }),
    /demand has 3 values, expected S\*L\*E = 2\*1\*2/,
  );
});

test("a next-step prediction (the token after, from the token now decoded) makes expertflow's eviction load less", () => {
  // Token n's experts at each layer are a function of token n-1's id: the next step is predictable from
  // the current token, and from nothing else. The table is built on one trace, the policy runs on another.
  const L = 2;
  const E = 8;
  const generate = (seed: number, N: number) => {
    const rand = seeded(seed);
    const ids = Int32Array.from({ length: N }, () => Math.floor(rand() * 12));
    const pick = (n: number, l: number) => {
      if (n === 0) return randomChoice(rand, E, 2);
      const v = ids[n - 1];
      const a = (v * 3 + l) % E;
      return [a, (a + 1 + (v % 3)) % E];
    };
    return { ...makeTrace({ tokens: N, numLayers: L, numExperts: E, topK: 2 }, pick), tokenIds: ids };
  };
  const train = generate(1, 600);
  const held = generate(2, 300);
  const table = buildNextStepTable([train]);
  const schedule = decodeSchedule(held, 1);
  const stream = accessStream(held, schedule);
  const flat = batchDemand(new Float32Array(held.tokens * L * E).fill(2 / E), schedule, held);
  const next = batchDemand(nextStepPredictions(table, held.tokenIds), schedule, held);
  const opts = { capacity: 6, layerMs: 1, ...LINK, demand: flat };
  const shape = { numLayers: L, numExperts: E, capacity: 6 };
  const without = simulateTimed(stream, () => new ExpertflowTimePolicy(shape), opts);
  const withNext = simulateTimed(stream, () => new ExpertflowTimePolicy(shape), { ...opts, nextDemand: next });
  const belady = simulateTimed(stream, () => new BeladyPolicy(stream), opts);
  assert.ok(withNext.loads < 0.9 * without.loads, `with next-step ${withNext.loads} loads, without ${without.loads}`);
  assert.ok(withNext.loads >= belady.loads);
  assert.throws(
    () => simulateTimed(stream, () => new ExpertflowTimePolicy(shape), { ...opts, nextDemand: new Float32Array(3) }),
    /nextDemand has 3 values, expected S\*L\*E/,
  );
});

test("late hints: demandFromLayer 0 is the default; L is the previous step's demand all step long", () => {
  const rand = seeded(31);
  const trace = makeTrace({ tokens: 80, numLayers: 3, numExperts: 8, topK: 2, sequences: 2 }, () => randomChoice(rand, 8, 2));
  const schedule = decodeSchedule(trace, 2);
  const stream = accessStream(trace, schedule);
  const demand = batchDemand(oraclePredictions(trace), schedule, trace);
  const K = 3 * 8;
  const shifted = new Float32Array(demand.length);
  shifted.set(demand.subarray(0, demand.length - K), K);
  const shape = { numLayers: 3, numExperts: 8, capacity: 8 };
  const opts = { capacity: 8, layerMs: 1, ...LINK };
  const run = (o: object) => simulateTimed(stream, () => new ExpertflowTimePolicy(shape), { ...opts, ...o });
  assert.deepEqual(run({ demand, demandFromLayer: 0 }), run({ demand }));
  assert.deepEqual(run({ demand, demandFromLayer: 3 }), run({ demand: shifted }));
  const mid = run({ demand, demandFromLayer: 1 });
  assert.notDeepEqual(mid, run({ demand }));
  assert.throws(() => run({ demand, demandFromLayer: 4 }), /demandFromLayer must be an integer in \[0, L = 3\], got 4/);
});
