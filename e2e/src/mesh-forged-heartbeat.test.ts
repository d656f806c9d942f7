// A process that can publish on NATS forges shard heartbeats: shard 0 re-advertised at its own listener,
// a whole 3-shard layout pointing at it, and a heartbeat for shard 0 sent on shard 1's subject. The
// router refuses them all (heartbeat-trust.ts: it dials only the configured shards, and believes a
// heartbeat only on its own shard's subject), so no expert call ever reaches the forger and the
// tokens are the in-process ones. This mesh runs NATS without authentication on purpose: the
// address allow-list must hold even then (with auth, the forger could not publish at all:
// packages/cli/src/launcher/nats-permissions.test.ts).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh, type Mesh } from "@expertmesh/cli/launcher";
import { ExpertShardServiceService, ShardHeartbeat, type RunExpertsRequest } from "@expertmesh/proto";
import { createNatsLink, createServer, service, shardSubject, silentLogger, type NatsLink, type Server } from "@expertmesh/runtime";
import { PROMPTS, referenceTokens, releaseReference } from "./reference.js";

let mesh: Mesh;
let forger: Server;
let link: NatsLink;
let forgedCalls = 0;
const lines: string[] = [];

before(async () => {
  mesh = await startMesh({
    shards: 2,
    predictor: false,
    secure: false,
    shardArgs: ["--heartbeat-interval", "200ms"],
    log: (l) => lines.push(l),
  });
  // The forger: a real ExpertShardService that answers every expert call (unary or on the dispatch
  // stream) with zeros, and counts.
  const zeros = (request: RunExpertsRequest) => {
    forgedCalls++;
    return {
      layer: request.layer,
      outputs: request.inputs.map((input) => ({
        expertId: input.expertId,
        output: { ...input.hiddenStates!, data: Buffer.alloc(input.hiddenStates!.data.length) },
        wasResident: true,
      })),
    };
  };
  forger = await createServer({
    name: "forger",
    signals: [],
    logger: silentLogger,
    services: [
      service(ExpertShardServiceService, {
        runExperts: zeros,
        dispatchExperts: async (call) => {
          for await (const m of call.requests) if (!m.cancel) void call.send({ callId: m.callId, ...zeros(m), error: undefined });
        },
        prefetch: () => ({ queuedExpertIds: [], residentExpertIds: [], droppedExpertIds: [] }),
        cacheStats: () => ({ shardId: "forger", tiers: [] }),
      }),
    ],
  });
  link = createNatsLink({ servers: [mesh.nats!.url], name: "forger", logger: silentLogger });
  await link.ready();
});
after(async () => {
  await link?.close();
  forger?.forceShutdown();
  await mesh?.stop();
  await releaseReference();
});

const forged = (shardId: number, shards: number): Uint8Array =>
  ShardHeartbeat.encode({
    shardId,
    shards,
    replicas: 1,
    address: forger.address,
    deviceResident: [],
    inFlight: 0,
    deviceUsedBytes: 0,
    deviceBudgetBytes: 0,
    sentAtMs: Date.now(),
    intervalMs: 200,
    draining: false,
    ignoresHints: false,
  }).finish();

test("forged heartbeats move no traffic to the forger: every token comes from the real shards", async () => {
  const want = await Promise.all(PROMPTS.map((p) => referenceTokens(p, 12)));
  const flood = setInterval(() => {
    link.publish(shardSubject("0"), forged(0, 2)); // shard 0 at the forger's address
    for (let id = 0; id < 3; id++) link.publish(shardSubject(String(id)), forged(id, 3)); // a "larger" layout, all at the forger
    link.publish(
      shardSubject("1"),
      ShardHeartbeat.encode({ ...ShardHeartbeat.decode(forged(0, 2)), address: mesh.shards[1]!.address }).finish(),
    );
  }, 50);
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
  try {
    await new Promise((r) => setTimeout(r, 1_500)); // the router has seen many forged heartbeats
    const got = await Promise.all(PROMPTS.map((p) => client.complete(p, { maxTokens: 12 })));
    got.forEach((g, i) => {
      assert.deepEqual(g.tokenIds, want[i], `prompt ${i}`);
    });
    assert.equal(forgedCalls, 0, "RunExperts calls that reached the forger");
    assert.ok(
      lines.some((l) => l.includes("shard heartbeat refused") && l.includes("address_not_allowed")),
      "the router says it refused them",
    );
    assert.ok(lines.some((l) => l.includes("shard heartbeat refused") && l.includes("subject_mismatch")));
    assert.ok(!lines.some((l) => l.includes("shard layout changed")), "the router kept its layout");
  } finally {
    clearInterval(flood);
    client.close();
  }
});
