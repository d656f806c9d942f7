import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "@expertmesh/runtime";
import { PrefetchPriority } from "@expertmesh/proto";
import { parseShardConfig } from "./config.js";
import { SimulatedLink } from "./simulated-link.js";
import { bundledSizes, hidden, shardClient, startShard, until } from "./testing.js";

const { D } = bundledSizes();
// A slow link, so that a load is far longer than anything else a call does: 1 GB/s, 250 MB per expert.
const T_MS = 250;
const LINK_FLAGS = ["--link-gbps", "1", "--link-expert-bytes", "250MB"];

test("transfers take S / G each and queue on the one link, first come first served", async () => {
  const link = new SimulatedLink({ gbps: 2, expertBytes: 60_000_000 }); // 30 ms
  assert.equal(link.transferMs, 30);
  const t0 = performance.now();
  const ends = await Promise.all([0, 1, 2].map(() => link.transfer().then(() => performance.now() - t0)));
  ends.forEach((end, i) => {
    assert.ok(end >= 30 * (i + 1), `transfer ${i} ended after ${end.toFixed(1)} ms, before ${30 * (i + 1)} ms`);
  });
  const { linkTransfers, linkBusyMs, linkWaitMs } = link.counters();
  assert.deepEqual([linkTransfers, linkBusyMs], [3, 90]);
  assert.ok(linkWaitMs >= linkBusyMs, `transfers waited ${linkWaitMs} ms in all, less than they held the link`);
  assert.throws(() => new SimulatedLink({ gbps: 0, expertBytes: 1 }), /bandwidth must be a finite number of GB\/s > 0, got 0/);
  assert.throws(() => new SimulatedLink({ gbps: 1, expertBytes: 0.5 }), /expert bytes must be a positive integer, got 0.5/);
});

test("an expert smaller than the largest (mixed precision) holds the link for its own bytes / G", async () => {
  const link = new SimulatedLink({ gbps: 1, expertBytes: 8_000_000 }); // 8 ms for the largest
  const t0 = performance.now();
  await Promise.all([link.transfer(false, 2_000_000), link.transfer(true, 4_000_000), link.transfer()]);
  assert.ok(performance.now() - t0 >= 14, "2 + 4 + 8 ms on one link");
  assert.deepEqual([link.counters().linkTransfers, link.counters().linkBusyMs], [3, 14]);
  assert.throws(() => link.transfer(false, 0), /transfer bytes must be a positive number, got 0/);
});

test("--link-gbps must be > 0, and --link-expert-bytes needs it", () => {
  assert.throws(
    () => parseShardConfig(["--link-gbps", "0"], {}),
    (e: unknown) => e instanceof ConfigError && /linkGbps.*GB\/s > 0/.test(e.message),
  );
  assert.throws(
    () => parseShardConfig(["--link-expert-bytes", "352MB"], {}),
    (e: unknown) => e instanceof ConfigError && /linkExpertBytes: 352000000 given without linkGbps/.test(e.message),
  );
  const config = parseShardConfig([], { EXPERTMESH_SHARD_LINK_GBPS: "25", EXPERTMESH_SHARD_LINK_EXPERT_BYTES: "352321536" });
  assert.deepEqual([config.linkGbps, config.linkExpertBytes], [25, 352321536]);
  assert.equal(parseShardConfig([], {}).linkGbps, undefined, "no simulation by default");
});

test("with a simulated link a miss waits at least S / G, a hit waits for nothing, and one load serves concurrent callers", async () => {
  const shard = await startShard(LINK_FLAGS);
  const client = shardClient(shard.address);
  try {
    const timed = async (expertId: number, seed: number) => {
      const t0 = performance.now();
      const response = await client.runExperts({ layer: 1, inputs: [{ expertId, hiddenStates: hidden(2, D, seed) }] });
      return { ms: performance.now() - t0, resident: response.outputs[0]!.wasResident };
    };
    const miss = await timed(3, 1);
    assert.equal(miss.resident, false);
    assert.ok(miss.ms >= T_MS, `a miss took ${miss.ms.toFixed(1)} ms, less than the simulated ${T_MS} ms`);
    const hit = await timed(3, 2);
    assert.equal(hit.resident, true);
    assert.ok(hit.ms < T_MS, `a hit took ${hit.ms.toFixed(1)} ms: it waited for the link`);

    const both = await Promise.all([timed(7, 3), timed(7, 4)]);
    assert.deepEqual(
      both.map((b) => b.resident),
      [false, false],
    );
    const counters = shard.shard.snapshot().counters;
    assert.equal(counters.loads, 2, "expert 7 was loaded once for both callers");
    assert.equal(counters.linkTransfers, 2);
    assert.equal(counters.linkBusyMs, 2 * T_MS);
  } finally {
    client.close();
    await shard.drain();
  }
});

test("a load on the simulated link does not hold up RunExperts of resident experts", async () => {
  const shard = await startShard(LINK_FLAGS);
  const client = shardClient(shard.address);
  try {
    await client.runExperts({ layer: 0, inputs: [{ expertId: 1, hiddenStates: hidden(1, D, 1) }] }); // now resident
    const queued = await client.prefetch({ layer: 0, expertIds: [2], priority: PrefetchPriority.PREFETCH_PRIORITY_HIGH });
    assert.deepEqual(queued.queuedExpertIds, [2]);
    for (let i = 0; i < 3; i++) {
      const response = await client.runExperts({ layer: 0, inputs: [{ expertId: 1, hiddenStates: hidden(3, D, 10 + i) }] });
      assert.equal(response.outputs[0]!.wasResident, true);
    }
    assert.equal(
      shard.shard.store.isResident(shard.shard.key(0, 2)),
      false,
      "the prefetch had already landed: the calls above did not overlap it",
    );
    await until(() => shard.shard.store.isResident(shard.shard.key(0, 2)), 5_000, "the prefetch to land");
  } finally {
    client.close();
    await shard.drain();
  }
});

test("a demand load goes ahead of prefetches still waiting for the link, without preempting the one on it", async () => {
  const link = new SimulatedLink({ gbps: 1, expertBytes: 20e6 }); // 20 ms per transfer
  const order: string[] = [];
  const p1 = link.transfer(true).then(() => order.push("prefetch 1"));
  const p2 = link.transfer(true).then(() => order.push("prefetch 2"));
  const p3 = link.transfer(true).then(() => order.push("prefetch 3"));
  assert.equal(link.pending(), 3);
  const d = link.transfer(false).then(() => order.push("demand"));
  await Promise.all([p1, p2, p3, d]);
  assert.deepEqual(order, ["prefetch 1", "demand", "prefetch 2", "prefetch 3"]);
  assert.equal(link.pending(), 0);
});
