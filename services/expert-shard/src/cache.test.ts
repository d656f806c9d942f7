import assert from "node:assert/strict";
import { test } from "node:test";
import { CacheTier, PrefetchPriority, type CacheStatsResponse, type TierStats } from "@expertmesh/proto";
import { bundledSizes, hidden, shardClient, startShard, until } from "./testing.js";

const { D, expertBytes: EXPERT_BYTES } = bundledSizes();
const device = (stats: CacheStatsResponse): TierStats => stats.tiers.find((t) => t.tier === CacheTier.CACHE_TIER_DEVICE)!;
const host = (stats: CacheStatsResponse): TierStats => stats.tiers.find((t) => t.tier === CacheTier.CACHE_TIER_HOST)!;

test("a churn of RunExperts and Prefetch never takes the device tier over its budget, and the counters add up", async () => {
  const budget = 3 * EXPERT_BYTES;
  const shard = await startShard(["--device-budget", String(budget), "--host-budget", String(5 * EXPERT_BYTES)]);
  const client = shardClient(shard.address);
  // What the workers really hold, sampled all along (not only what CacheStats says).
  let mostOnWorkers = 0;
  const sampler = setInterval(
    () =>
      (mostOnWorkers = Math.max(
        mostOnWorkers,
        shard.shard.workerResidency().reduce((a, b) => a + b, 0),
      )),
    1,
  );
  try {
    let s = 12345;
    const rand = (n: number) => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n;
    const pick = (n: number) => [...new Set(Array.from({ length: 1 + rand(n) }, () => rand(10)))]; // experts 0..9 of a layer
    let accesses = 0;
    for (let round = 0; round < 12; round++) {
      const calls: Promise<unknown>[] = [];
      for (let c = 0; c < 4; c++) {
        const layer = rand(2);
        if (rand(3) === 0) {
          const priority = rand(2) === 0 ? PrefetchPriority.PREFETCH_PRIORITY_LOW : PrefetchPriority.PREFETCH_PRIORITY_HIGH;
          calls.push(client.prefetch({ layer, expertIds: pick(4), priority }));
        } else {
          const ids = pick(5);
          accesses += ids.length;
          calls.push(
            client.runExperts({
              layer,
              inputs: ids.map((expertId) => ({ expertId, hiddenStates: hidden(1 + rand(4), D, round * 10 + c) })),
            }),
          );
        }
      }
      calls.push(
        client.cacheStats().then((stats) => {
          assert.ok(device(stats).resident.length <= 3, `device holds ${device(stats).resident.length} experts, budget 3`);
          assert.ok(device(stats).usedBytes <= budget);
          assert.ok(host(stats).resident.length <= 5, `host holds ${host(stats).resident.length} experts, budget 5`);
        }),
      );
      await Promise.all(calls);
    }
    await until(
      () => {
        const { prefetchWaiting, prefetchRunning } = shard.shard.snapshot();
        return prefetchWaiting + prefetchRunning === 0;
      },
      5_000,
      "the prefetches to finish",
    );
    const stats = await client.cacheStats();
    const d = device(stats);
    assert.ok(mostOnWorkers <= 3, `the workers held ${mostOnWorkers} experts at once, budget 3`);
    assert.equal(d.budgetBytes, budget);
    assert.equal(d.hits + d.misses, accesses, "hits + misses = accesses");
    assert.ok(d.misses > 0 && d.evictions > 0, "the churn did not exercise the budget");
    assert.equal(d.loads, d.evictions + d.resident.length, "every load is resident or was evicted");
    assert.equal(d.bytesLoaded, d.loads * EXPERT_BYTES);
    assert.equal(d.usedBytes, d.resident.length * EXPERT_BYTES);
    assert.ok(d.loads - d.prefetchLoads <= d.misses, "on-demand loads only come from misses");
    assert.ok(d.wastedPrefetches <= d.prefetchLoads);
    assert.equal(host(stats).bytesLoaded, host(stats).loads * EXPERT_BYTES);
  } finally {
    clearInterval(sampler);
    client.close();
    await shard.drain();
  }
});

test("Prefetch then RunExperts of the same expert: resident, and no extra load", async () => {
  const shard = await startShard();
  const client = shardClient(shard.address);
  try {
    const queued = await client.prefetch({ layer: 2, expertIds: [5], priority: PrefetchPriority.PREFETCH_PRIORITY_HIGH });
    assert.deepEqual(queued, { queuedExpertIds: [5], residentExpertIds: [], droppedExpertIds: [] });
    await until(
      async () => device(await client.cacheStats()).resident.some((r) => r.layer === 2 && r.expertId === 5),
      5_000,
      "the prefetch",
    );
    const before = device(await client.cacheStats());
    assert.deepEqual([before.loads, before.prefetchLoads, before.misses], [1, 1, 0]);

    const response = await client.runExperts({ layer: 2, inputs: [{ expertId: 5, hiddenStates: hidden(4, D, 1) }] });
    assert.equal(response.outputs[0]?.wasResident, true);
    const afterRun = device(await client.cacheStats());
    assert.deepEqual([afterRun.loads, afterRun.hits, afterRun.misses], [1, 1, 0]);

    const again = await client.prefetch({ layer: 2, expertIds: [5], priority: PrefetchPriority.PREFETCH_PRIORITY_LOW });
    assert.deepEqual(again.residentExpertIds, [5]);
  } finally {
    client.close();
    await shard.drain();
  }
});

test("low-priority prefetches are dropped when the load queue is full; high priority never is", async () => {
  const shard = await startShard(["--prefetch-queue", "2"]);
  const client = shardClient(shard.address);
  try {
    const low = await client.prefetch({ layer: 0, expertIds: [0, 1, 2, 3, 4, 5, 6, 7], priority: PrefetchPriority.PREFETCH_PRIORITY_LOW });
    assert.ok(low.droppedExpertIds.length > 0, "nothing was dropped");
    assert.deepEqual(
      [...low.queuedExpertIds, ...low.droppedExpertIds].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    const high = await client.prefetch({
      layer: 1,
      expertIds: [0, 1, 2, 3, 4, 5, 6, 7],
      priority: PrefetchPriority.PREFETCH_PRIORITY_HIGH,
    });
    assert.deepEqual(high.droppedExpertIds, []);
    assert.equal(high.queuedExpertIds.length, 8);
    await until(
      async () => device(await client.cacheStats()).resident.filter((r) => r.layer === 1).length === 8,
      5_000,
      "the high-priority loads",
    );
  } finally {
    client.close();
    await shard.drain();
  }
});

test("Prefetch of an expert the shard does not own is NOT_FOUND", async () => {
  const shard = await startShard(["--shards", "4", "--shard-id", "3"]);
  const client = shardClient(shard.address);
  try {
    await assert.rejects(
      client.prefetch({ layer: 0, expertIds: [3, 4], priority: PrefetchPriority.PREFETCH_PRIORITY_LOW }),
      /expert 4 of layer 0 is not owned by shard 3/,
    );
  } finally {
    client.close();
    await shard.drain();
  }
});
