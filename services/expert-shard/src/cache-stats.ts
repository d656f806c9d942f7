// CacheStats: the device tier then the host tier, each with what it holds, its budget and its
// counters since the shard started.

import type { CacheStatsResponse } from "@expertmesh/proto";
import type { ExpertShard } from "./shard.js";

export function cacheStats(shard: ExpertShard) {
  return (): CacheStatsResponse => ({ shardId: String(shard.id), tiers: shard.store.tierStats() });
}
