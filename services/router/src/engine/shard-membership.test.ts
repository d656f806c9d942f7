import assert from "node:assert/strict";
import { test } from "node:test";
import type { ShardHeartbeat } from "@expertmesh/proto";
import { ShardMembership } from "./shard-membership.js";

const hb = (shardId: number, over: Partial<ShardHeartbeat> = {}): ShardHeartbeat => ({
  shardId,
  shards: 2,
  replicas: 2,
  address: "",
  deviceResident: [],
  inFlight: 0,
  deviceUsedBytes: 0,
  deviceBudgetBytes: 0,
  sentAtMs: 0,
  intervalMs: 1000,
  draining: false,
  ignoresHints: false,
  ...over,
});

test("without heartbeats every shard is available and holds nothing (static placement)", () => {
  const m = new ShardMembership(2);
  assert.equal(m.available(0), true);
  assert.equal(m.isResident(1, 5), false);
});

test("heartbeats report residency and load; a draining or silent shard is unavailable", () => {
  const m = new ShardMembership(2);
  m.update(hb(0, { deviceResident: [5, 9], inFlight: 3 }), 10_000);
  m.update(hb(1, { draining: true }), 10_000);
  assert.equal(m.isResident(0, 9), true);
  assert.equal(m.inFlight(0), 3);
  assert.equal(m.available(0, 12_000), true);
  assert.equal(m.available(0, 13_001), false, "three intervals without a heartbeat");
  assert.equal(m.available(1, 10_000), false, "draining");
  m.update(hb(7), 10_000); // another placement's shard: ignored
  assert.equal(m.heartbeats, 2);
});
