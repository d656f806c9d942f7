// Heartbeats on NATS (expertmesh.v1.shards.<id>): membership, the device tier's contents and the shard's
// load, every interval, so that the router chooses replicas by residency and load. NATS being down only
// drops heartbeats (counted by the link); serving is unaffected.
import { expertKey } from "@expertmesh/moe";
import { ShardHeartbeat } from "@expertmesh/proto";
import { shardSubject, type NatsLink } from "@expertmesh/runtime";
import type { ExpertShard } from "./shard.js";

export interface Heartbeats {
  /** Publishes one last heartbeat saying the shard drains, then stops. */
  stop(draining: boolean): void;
}

export function startHeartbeats(
  link: NatsLink,
  shard: ExpertShard,
  o: { address: string; shards: number; replicas: number; intervalMs: number; ignoresHints: boolean },
): Heartbeats {
  const E = shard.model.numExperts;
  const publish = (draining: boolean) => {
    const s = shard.snapshot();
    const hb: ShardHeartbeat = {
      shardId: s.shardId,
      shards: o.shards,
      replicas: o.replicas,
      address: o.address,
      deviceResident: s.deviceResident.map(([layer, expert]) => expertKey({ layer, expert }, E)),
      inFlight: s.inFlightCalls,
      deviceUsedBytes: s.deviceResident.reduce((a, [layer, expert]) => a + shard.expertBytesOf(layer, expert), 0),
      deviceBudgetBytes: s.deviceBudgetBytes,
      sentAtMs: Date.now(),
      intervalMs: o.intervalMs,
      draining,
      ignoresHints: o.ignoresHints,
    };
    link.publish(shardSubject(String(s.shardId)), ShardHeartbeat.encode(hb).finish());
  };
  const timer = setInterval(() => publish(false), o.intervalMs);
  timer.unref();
  publish(false);
  return {
    stop(draining) {
      clearInterval(timer);
      if (draining) publish(true);
    },
  };
}
