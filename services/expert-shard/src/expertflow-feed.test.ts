import assert from "node:assert/strict";
import { test } from "node:test";
import { ExpertflowPolicy } from "@expertmesh/moe";
import { CacheTier, type PrefetchHint } from "@expertmesh/proto";
import { ExpertflowFeed } from "./expertflow-feed.js";
import { bundledSizes, hidden, shardClient, startShard, until } from "./testing.js";

const hint = (h: Partial<PrefetchHint> & { layer: number; expertIds: number[] }): PrefetchHint =>
  ({ scores: [], step: 0, correction: false, ...h }) as PrefetchHint;

test("hints set their layer's predicted demand; stale ones are ignored, corrections always apply", () => {
  const feed = new ExpertflowFeed(new ExpertflowPolicy({ numLayers: 2, numExperts: 4, capacity: 3 }), 2, 4);
  const all = () => true;
  const none = () => false;
  assert.deepEqual(feed.hint(hint({ layer: 1, expertIds: [2, 0], scores: [0.9, 0.4], step: 5 }), all, none), [
    { key: 6, high: false },
    { key: 4, high: false },
  ]);
  assert.deepEqual(
    [...feed.demand().subarray(4, 8)].map((x) => +x.toFixed(2)),
    [0.4, 0, 0.9, 0],
  );
  assert.deepEqual(feed.hint(hint({ layer: 1, expertIds: [3], scores: [1], step: 4 }), all, none), []); // stale
  assert.equal(feed.demand()[7], 0);
  assert.deepEqual(feed.hint(hint({ layer: 1, expertIds: [3], step: 4, correction: true }), all, none), [{ key: 7, high: true }]);
  assert.equal(feed.demand()[7], 1);
  // A newer hint replaces the layer's row; experts not owned, or resident, are not offered.
  assert.deepEqual(
    feed.hint(
      hint({ layer: 1, expertIds: [1, 2], scores: [0.5, 0.5], step: 6 }),
      (k) => k !== 5,
      (k) => k === 6,
    ),
    [],
  );
  assert.deepEqual(
    [...feed.demand().subarray(4, 8)].map((x) => +x.toFixed(2)),
    [0, 0.5, 0.5, 0],
  );
  // Malformed: out of range, or scores not matching the ids.
  assert.deepEqual(feed.hint(hint({ layer: 2, expertIds: [0] }), all, none), []);
  assert.deepEqual(feed.hint(hint({ layer: 0, expertIds: [4] }), all, none), []);
  assert.deepEqual(feed.hint(hint({ layer: 0, expertIds: [0, 1], scores: [1] }), all, none), []);
});

test("a hinted expert is worth loading into a free slot, or over a resident the policy values less", () => {
  const policy = new ExpertflowPolicy({ numLayers: 2, numExperts: 4, capacity: 1 });
  const feed = new ExpertflowFeed(policy, 2, 4);
  feed.hint(
    hint({ layer: 1, expertIds: [2], scores: [0.95], step: 1 }),
    () => true,
    () => false,
  );
  assert.equal(feed.worthLoading(6, [], 1), true);
  policy.insert(5); // layer 1, expert 1: predicted by nothing
  assert.equal(feed.worthLoading(6, [5], 0), true);
  policy.remove(5);
  policy.insert(6);
  assert.equal(feed.worthLoading(5, [6], 0), false);
});

test("--policy expertflow: the shard prefetches hinted experts it owns and serves RunExperts as before", async () => {
  const { D, expertBytes } = bundledSizes();
  const shard = await startShard(["--policy", "expertflow", "--device-budget", String(4 * expertBytes)]);
  const client = shardClient(shard.address);
  try {
    assert.equal(shard.shard.snapshot().policy, "expertflow");
    const queued = shard.shard.hint(hint({ layer: 0, expertIds: [3, 5], scores: [0.9, 0.8], step: 1 }));
    assert.equal(queued, 2);
    await until(() => shard.shard.store.deviceResident().length === 2, 5_000, "the hinted experts to load");
    const out = await client.runExperts({
      layer: 0,
      inputs: [3, 5, 7].map((expertId, i) => ({ expertId, hiddenStates: hidden(2, D, i) })),
    });
    assert.deepEqual(
      out.outputs.map((o) => o.wasResident),
      [true, true, false],
    );
    const device = (await client.cacheStats()).tiers.find((t) => t.tier === CacheTier.CACHE_TIER_DEVICE)!;
    assert.equal(device.prefetchLoads, 2);
    assert.equal(device.hits, 2);
    assert.equal(device.misses, 1);
  } finally {
    client.close();
    await shard.drain();
  }
});

test("--policy lru ignores hints (on demand only)", async () => {
  const shard = await startShard(["--policy", "lru"]);
  try {
    assert.equal(shard.shard.hint(hint({ layer: 0, expertIds: [1], scores: [1], step: 1 })), 0);
  } finally {
    await shard.drain();
  }
});
