import assert from "node:assert/strict";
import { test } from "node:test";
import { optimalTwoBatches } from "./scheduler-exact.js";
import {
  arrivalBatches,
  checkPartition,
  greedyBatches,
  hammingBatches,
  improveBatches,
  regroup,
  type Batches,
} from "./scheduler-regroup.js";
import {
  activatedExperts,
  addExperts,
  emptyRouteSets,
  routeSetsFromChoices,
  setExperts,
  windowUnion,
  type RouteSets,
} from "./scheduler-routes.js";

function rng(seed: number): () => number {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** W sequences with k distinct random experts per layer, drawn from a few "topics" so that structure exists. */
function randomRoutes(
  rand: () => number,
  W: number,
  L: number,
  E: number,
  k: number,
  topics = 3,
): { sets: RouteSets; lists: number[][][] } {
  const sets = emptyRouteSets(W, L, E);
  const lists: number[][][] = [];
  const favourites = Array.from({ length: topics }, () =>
    Array.from({ length: L }, () => Array.from({ length: k + 2 }, () => Math.floor(rand() * E))),
  );
  for (let i = 0; i < W; i++) {
    const topic = Math.floor(rand() * topics);
    const perLayer: number[][] = [];
    for (let l = 0; l < L; l++) {
      const chosen = new Set<number>();
      while (chosen.size < k) chosen.add(rand() < 0.7 ? favourites[topic][l][Math.floor(rand() * (k + 2))] : Math.floor(rand() * E));
      perLayer.push([...chosen]);
      addExperts(sets, i, l, [...chosen]);
    }
    lists.push(perLayer);
  }
  return { sets, lists };
}

/** A, counted with JavaScript Sets from the expert lists (independent of the bit sets). */
function referenceActivated(lists: number[][][], batches: Batches): number {
  let a = 0;
  for (const b of batches) for (let l = 0; l < lists[0].length; l++) a += new Set(b.flatMap((i) => lists[i][l])).size;
  return a;
}

const methods = {
  arrival: (s: RouteSets, T: number) => arrivalBatches(s.count, T),
  hamming: hammingBatches,
  greedy: greedyBatches,
  improved: (s: RouteSets, T: number) => improveBatches(s, arrivalBatches(s.count, T), T),
  regroup: (s: RouteSets, T: number) => regroup(s, T),
};

test("every method puts each sequence in exactly one batch of at most T, on random windows (E up to 70)", () => {
  const rand = rng(11);
  for (let trial = 0; trial < 60; trial++) {
    const W = 1 + Math.floor(rand() * 40);
    const T = 1 + Math.floor(rand() * 12);
    const E = [8, 16, 33, 70][trial % 4];
    const { sets } = randomRoutes(rand, W, 1 + (trial % 4), E, 1 + (trial % 3));
    for (const [name, partition] of Object.entries(methods)) {
      const batches = partition(sets, T);
      assert.doesNotThrow(() => checkPartition(W, batches, T), `${name} W=${W} T=${T}`);
      assert.equal(batches.length, Math.ceil(W / T), `${name}: ceil(W/T) batches`);
    }
  }
});

test("the objective equals a Set-based count of distinct experts per batch and layer, and is at least the window union", () => {
  const rand = rng(5);
  const { sets, lists } = randomRoutes(rand, 24, 4, 40, 2);
  for (const partition of Object.values(methods)) {
    const batches = partition(sets, 8);
    const a = activatedExperts(sets, batches);
    assert.equal(a, referenceActivated(lists, batches));
    assert.ok(a >= windowUnion(sets));
  }
  assert.equal(windowUnion(sets), referenceActivated(lists, [Array.from({ length: 24 }, (_, i) => i)]));
});

test("two clusters of identical routes, interleaved in arrival order, are separated perfectly", () => {
  const W = 16,
    T = 8,
    L = 4,
    E = 16,
    k = 2;
  const experts = new Uint16Array(W * L * k);
  for (let i = 0; i < W; i++) {
    for (let l = 0; l < L; l++) {
      const base = i % 2 === 0 ? 0 : 8; // even sequences use experts 0,1 (+l); odd ones 8,9 (+l)
      experts.set([base + l, base + l + 1], (i * L + l) * k);
    }
  }
  const sets = routeSetsFromChoices(experts, { count: W, numLayers: L, numExperts: E, topK: k });
  const evens = [0, 2, 4, 6, 8, 10, 12, 14];
  const odds = [1, 3, 5, 7, 9, 11, 13, 15];
  assert.equal(activatedExperts(sets, arrivalBatches(W, T)), 2 * L * 2 * k); // both batches see both clusters
  for (const name of ["hamming", "greedy", "regroup"] as const) {
    assert.deepEqual(methods[name](sets, T), [evens, odds], name);
  }
  assert.equal(activatedExperts(sets, regroup(sets, T)), L * 2 * k); // = the window union
  assert.equal(activatedExperts(sets, regroup(sets, T)), windowUnion(sets));
});

test("regroup is never worse than arrival order, nor better than the exact optimum", () => {
  const rand = rng(23);
  for (let trial = 0; trial < 40; trial++) {
    const T = 2 + (trial % 7);
    const W = T + 1 + Math.floor(rand() * T);
    const { sets } = randomRoutes(rand, W, 4, 16, 2);
    const arrival = activatedExperts(sets, arrivalBatches(W, T));
    const regrouped = activatedExperts(sets, regroup(sets, T));
    const optimum = optimalTwoBatches(sets, T);
    assert.ok(regrouped <= arrival, `trial ${trial}: regroup ${regrouped} > arrival ${arrival}`);
    assert.ok(regrouped >= optimum.activated, `trial ${trial}: regroup ${regrouped} < optimum ${optimum.activated}`);
    assert.equal(activatedExperts(sets, optimum.batches), optimum.activated);
    checkPartition(W, optimum.batches, T);
  }
});

test("local search never makes its start worse", () => {
  const rand = rng(99);
  for (let trial = 0; trial < 30; trial++) {
    const { sets } = randomRoutes(rand, 20, 3, 16, 2);
    const start = hammingBatches(sets, 6);
    assert.ok(activatedExperts(sets, improveBatches(sets, start, 6)) <= activatedExperts(sets, start));
  }
});

test("the exact optimum matches enumeration of every subset (small windows)", () => {
  const rand = rng(3);
  for (let trial = 0; trial < 10; trial++) {
    const W = 7,
      T = 4;
    const { sets, lists } = randomRoutes(rand, W, 2, 12, 2);
    let best = Infinity;
    for (let mask = 0; mask < 1 << W; mask++) {
      const a = [...Array(W).keys()].filter((i) => mask & (1 << i));
      const b = [...Array(W).keys()].filter((i) => !(mask & (1 << i)));
      if (a.length > T || b.length > T) continue;
      best = Math.min(
        best,
        referenceActivated(
          lists,
          [a, b].filter((x) => x.length),
        ),
      );
    }
    assert.equal(optimalTwoBatches(sets, T).activated, best);
  }
});

test("a window of at most T sequences is one batch, in window order", () => {
  const { sets } = randomRoutes(rng(1), 5, 2, 16, 2);
  assert.deepEqual(regroup(sets, 8), [[0, 1, 2, 3, 4]]);
  assert.deepEqual(regroup(emptyRouteSets(0, 2, 16), 4), []);
});

test("sequences with unknown (empty) routes are still scheduled, and equal routes keep arrival order", () => {
  const sets = emptyRouteSets(6, 2, 16);
  assert.deepEqual(regroup(sets, 2), [
    [0, 1],
    [2, 3],
    [4, 5],
  ]);
});

test("bad input names the limit and the value", () => {
  const sets = emptyRouteSets(4, 2, 16);
  assert.throws(() => regroup(sets, 0), /T=0 must be a positive integer/);
  assert.throws(() => addExperts(sets, 0, 0, [16]), /expert 16 out of range \(E=16\)/);
  assert.throws(() => addExperts(sets, 4, 0, [1]), /sequence 4 out of range \(W=4\)/);
  assert.throws(
    () =>
      checkPartition(
        4,
        [
          [0, 1],
          [1, 2, 3],
        ],
        3,
      ),
    /sequence 1 is in two batches/,
  );
  assert.throws(() => checkPartition(4, [[0, 1], [2]], 3), /sequence 3 is in no batch/);
  assert.throws(() => checkPartition(4, [[0, 1, 2, 3]], 3), /a batch of 4 sequences \(T=3\)/);
  assert.throws(() => routeSetsFromChoices([1, 2, 3], { count: 1, numLayers: 2, numExperts: 16, topK: 2 }), /expected W\*L\*k = 1\*2\*2/);
});

test("setExperts lists a set's experts in ascending order across words", () => {
  const sets = emptyRouteSets(1, 1, 70);
  addExperts(sets, 0, 0, [69, 3, 31, 32]);
  assert.deepEqual(setExperts(sets, 0, 0), [3, 31, 32, 69]);
});
