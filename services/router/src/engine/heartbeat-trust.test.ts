import assert from "node:assert/strict";
import { test } from "node:test";
import type { ShardHeartbeat } from "@expertmesh/proto";
import { HeartbeatTrust } from "./heartbeat-trust.js";

const hb = (shardId: number, address: string): ShardHeartbeat => ({
  shardId,
  shards: 2,
  replicas: 1,
  address,
  deviceResident: [],
  inFlight: 0,
  deviceUsedBytes: 0,
  deviceBudgetBytes: 0,
  sentAtMs: 0,
  intervalMs: 1000,
  draining: false,
  ignoresHints: false,
});

test("a heartbeat naming a configured address on its own subject is accepted", () => {
  const trust = new HeartbeatTrust(["127.0.0.1:5001", "127.0.0.1:5002"]);
  assert.equal(trust.judge("expertmesh.v1.shards.1", hb(1, "127.0.0.1:5002")), "accepted");
  assert.equal(trust.judge("expertmesh.v1.shards.0", hb(0, "")), "accepted", "no address: nothing to dial");
});

test("a heartbeat naming an address the router may not dial is refused", () => {
  const trust = new HeartbeatTrust(["127.0.0.1:5001"]);
  assert.equal(trust.judge("expertmesh.v1.shards.0", hb(0, "127.0.0.1:6666")), "address_not_allowed");
  assert.equal(trust.counts.address_not_allowed, 1);
});

test("a heartbeat on another shard's subject is refused", () => {
  const trust = new HeartbeatTrust(["127.0.0.1:5001"]);
  assert.equal(trust.judge("expertmesh.v1.shards.1", hb(0, "127.0.0.1:5001")), "subject_mismatch");
});

test("patterns match one DNS label or the port, never across dots", () => {
  const trust = new HeartbeatTrust([], ["expert-shard-*.expert-shard.expertmesh.svc.cluster.local:50061", "127.0.0.1:*"]);
  assert.equal(trust.mayDial("expert-shard-3.expert-shard.expertmesh.svc.cluster.local:50061"), true);
  assert.equal(trust.mayDial("expert-shard-3.evil.example.expert-shard.expertmesh.svc.cluster.local:50061"), false);
  assert.equal(trust.mayDial("expert-shard-3.expert-shard.expertmesh.svc.cluster.local:50062"), false);
  assert.equal(trust.mayDial("127.0.0.1:50099"), true);
  assert.equal(trust.mayDial("127.0.0.2:50099"), false);
});
