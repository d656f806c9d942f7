// What the router knows of each shard beyond static placement, from NATS heartbeats: which experts its
// device tier holds, its load, whether it drains, and when it was last heard from. Without NATS (or
// before the first heartbeat) every shard is assumed up with nothing resident: static placement.
import type { ShardHeartbeat } from "@expertmesh/proto";

interface ShardState {
  resident: Set<number>;
  inFlight: number;
  draining: boolean;
  lastSeenMs: number;
  intervalMs: number;
}

export class ShardMembership {
  private readonly shards: (ShardState | undefined)[];
  heartbeats = 0;

  constructor(readonly count: number) {
    this.shards = new Array(count).fill(undefined);
  }

  update(hb: ShardHeartbeat, nowMs = Date.now()): void {
    if (hb.shardId >= this.count) return; // a shard of another placement
    this.heartbeats++;
    this.shards[hb.shardId] = {
      resident: new Set(hb.deviceResident),
      inFlight: hb.inFlight,
      draining: hb.draining,
      lastSeenMs: nowMs,
      intervalMs: hb.intervalMs || 1000,
    };
  }

  /** False when the shard said it drains, or its heartbeats stopped (3 intervals) after it had sent some. */
  available(shard: number, nowMs = Date.now()): boolean {
    const s = this.shards[shard];
    if (!s) return true;
    return !s.draining && nowMs - s.lastSeenMs <= 3 * s.intervalMs;
  }

  isResident(shard: number, expertKey: number): boolean {
    return this.shards[shard]?.resident.has(expertKey) ?? false;
  }

  inFlight(shard: number): number {
    return this.shards[shard]?.inFlight ?? 0;
  }
}
