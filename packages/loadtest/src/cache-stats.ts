// The mesh's own cache statistics around a run: each shard's CacheStats before (at the end of the
// warm-up) and after, and the difference, so that the report shows what the load did to the caches.
import { credentials, type ChannelCredentials } from "@grpc/grpc-js";
import { CacheTier, ExpertShardServiceClient, type CacheStatsResponse, type TierStats } from "@expertmesh/proto";
import { channelOptions, unaryCall } from "@expertmesh/runtime";

export interface TierCounters {
  hits: number;
  misses: number;
  loads: number;
  prefetchLoads: number;
  wastedPrefetches: number;
  evictions: number;
  bytesLoaded: number;
  usedBytes: number;
  budgetBytes: number;
  resident: number;
}

export interface ShardCacheReport {
  address: string;
  shardId: string;
  /** Device tier (host tier below it is not reported); undefined when the shard did not answer. */
  before?: TierCounters;
  after?: TierCounters;
  /** after − before for the counters; usedBytes, budgetBytes and resident are the after values. */
  delta?: TierCounters & { hitRatio: number };
  error?: string;
}

export async function readCacheStats(
  addresses: readonly string[],
  creds: ChannelCredentials = credentials.createInsecure(),
  timeoutMs = 5_000,
) {
  return Promise.all(
    addresses.map((a) =>
      one(a, creds, timeoutMs).then(
        (r) => ({ address: a, stats: r }),
        (e: Error) => ({ address: a, error: e.message }),
      ),
    ),
  );
}

export type CacheSnapshot = Awaited<ReturnType<typeof readCacheStats>>;

function one(address: string, creds: ChannelCredentials, timeoutMs: number): Promise<CacheStatsResponse> {
  const c = new ExpertShardServiceClient(address, creds, channelOptions());
  return unaryCall(c, "cacheStats", {}, { timeoutMs }).finally(() => c.close());
}

function device(s: CacheStatsResponse): TierCounters | undefined {
  const t: TierStats | undefined = s.tiers.find((x) => x.tier === CacheTier.CACHE_TIER_DEVICE);
  if (!t) return undefined;
  return {
    hits: Number(t.hits),
    misses: Number(t.misses),
    loads: Number(t.loads),
    prefetchLoads: Number(t.prefetchLoads),
    wastedPrefetches: Number(t.wastedPrefetches),
    evictions: Number(t.evictions),
    bytesLoaded: Number(t.bytesLoaded),
    usedBytes: Number(t.usedBytes),
    budgetBytes: Number(t.budgetBytes),
    resident: t.resident.length,
  };
}

export function cacheReport(before: CacheSnapshot, after: CacheSnapshot): ShardCacheReport[] {
  return after.map((a, i) => {
    const b = before[i];
    const out: ShardCacheReport = { address: a.address, shardId: "stats" in a ? a.stats.shardId : "?" };
    if ("error" in b || "error" in a) {
      out.error = "error" in a ? a.error : (b as { error: string }).error;
      return out;
    }
    out.before = device(b.stats);
    out.after = device(a.stats);
    if (out.before && out.after) {
      const x = out.before;
      const y = out.after;
      const hits = y.hits - x.hits;
      const misses = y.misses - x.misses;
      out.delta = {
        hits,
        misses,
        loads: y.loads - x.loads,
        prefetchLoads: y.prefetchLoads - x.prefetchLoads,
        wastedPrefetches: y.wastedPrefetches - x.wastedPrefetches,
        evictions: y.evictions - x.evictions,
        bytesLoaded: y.bytesLoaded - x.bytesLoaded,
        usedBytes: y.usedBytes,
        budgetBytes: y.budgetBytes,
        resident: y.resident,
        hitRatio: hits + misses ? hits / (hits + misses) : NaN,
      };
    }
    return out;
  });
}
