// ExpertFlow through a real mesh (nats-server, predictor, 2 shards with --policy expertflow at a 25 %
// device budget, router): the shards load experts ahead of need from the hints that the router publishes
// from the predictor's predictions (device-tier prefetch loads > 0; nothing else asks a shard to
// prefetch), and greedy output still equals the in-process runtime token for token.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh } from "@expertmesh/cli/launcher";
import { readCacheStats, cacheReport } from "@expertmesh/loadtest";
import { PROMPTS, referenceTokens, releaseReference } from "./reference.js";

const MAX_TOKENS = 24;

after(releaseReference);

test("mesh with --policy expertflow prefetches from the predictor's hints and = in-process, token for token", async () => {
  const want = await Promise.all(PROMPTS.map((p) => referenceTokens(p, MAX_TOKENS)));
  const mesh = await startMesh({ shards: 2, replicas: 1, deviceBudget: "25%", policy: "expertflow" });
  assert.ok(mesh.predictor && mesh.nats, "the mesh runs a predictor and nats-server");
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
  const shards = mesh.shards.map((s) => s.address);
  try {
    const before = await readCacheStats(shards, mesh.credentials());
    const got = await Promise.all(PROMPTS.map((p) => client.complete(p, { maxTokens: MAX_TOKENS })));
    got.forEach((g, i) => {
      assert.deepEqual(g.tokenIds, want[i], `prompt ${i}`);
      assert.equal(g.finishReason, "length");
    });
    const cache = cacheReport(before, await readCacheStats(shards, mesh.credentials()));
    for (const c of cache) assert.ok(c.delta, `shard ${c.address}: ${c.error}`);
    const prefetchLoads = cache.reduce((a, c) => a + c.delta!.prefetchLoads, 0);
    const loads = cache.reduce((a, c) => a + c.delta!.loads, 0);
    assert.ok(prefetchLoads > 0, `no expert was loaded ahead of need (${loads} loads, all on demand)`);
    assert.ok(prefetchLoads <= loads);
    for (const c of cache)
      assert.ok(
        c.delta!.usedBytes <= c.delta!.budgetBytes,
        `shard ${c.shardId} holds ${c.delta!.usedBytes} bytes, over its budget of ${c.delta!.budgetBytes}`,
      );
  } finally {
    client.close();
    await mesh.stop();
  }
});

test("8 shards at 25 % (2 device slots each, = top-k) with expertflow serve concurrent requests = in-process", async () => {
  // Every slot of a shard can be taken by prefetches under way; a demand load then waits for one to
  // land. It used to wait for an unrelated unpin instead, and every request failed after the call deadline.
  const want = await Promise.all(PROMPTS.map((p) => referenceTokens(p, MAX_TOKENS)));
  const mesh = await startMesh({ shards: 8, replicas: 1, deviceBudget: "25%", policy: "expertflow" });
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
  try {
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(PROMPTS.map((p) => client.complete(p, { maxTokens: MAX_TOKENS })));
      got.forEach((g, i) => {
        assert.deepEqual(g.tokenIds, want[i], `round ${round}, prompt ${i}`);
      });
    }
    for (const shard of mesh.shards) {
      const snap = (await readCacheStats([shard.address], mesh.credentials()))[0];
      assert.ok("stats" in snap, `${shard.address}: ${"error" in snap ? snap.error : ""}`);
      const device = snap.stats.tiers[0];
      assert.ok(device.usedBytes <= device.budgetBytes && device.budgetBytes > 0);
    }
  } finally {
    client.close();
    await mesh.stop();
  }
});
