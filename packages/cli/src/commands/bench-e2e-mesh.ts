// One configuration of `expertmesh bench e2e`: a mesh on loopback (launcher startMesh: nats-server,
// predictor, shards, router), preloaded when every expert is to be resident, warmed up with a closed-loop
// run, then measured with another (packages/loadtest), with each shard's device-tier counters read
// just before and after the measured run.
import { Metadata, type ChannelCredentials } from "@grpc/grpc-js";
import { ExpertMeshClient } from "@expertmesh/client";
import { cacheReport, readCacheStats, runLoad, summarize, type Prompt, type ShardCacheReport, type Summary } from "@expertmesh/loadtest";
import { Placement } from "@expertmesh/moe";
import { CacheTier, ExpertShardServiceClient, PrefetchPriority, type CacheStatsResponse } from "@expertmesh/proto";
import { channelOptions } from "@expertmesh/runtime";
import { startMesh } from "../launcher/index.js";

export type E2eConfigName = "resident" | "lru" | "expertflow" | "expertflow-arrival" | "expertflow-regroup";

/** Router flags of a configuration: the two scheduled ones decode `stepBatch` sequences per step, in arrival order or regrouped by predicted routes. */
function routerArgs(config: E2eConfigName, stepBatch: number): string[] {
  if (config === "expertflow-arrival") return ["--schedule", "arrival", "--step-batch", String(stepBatch)];
  if (config === "expertflow-regroup") return ["--schedule", "regroup", "--step-batch", String(stepBatch)];
  return [];
}

export interface SimulatedLinkSpec {
  /** Gigabytes (10^9 bytes) per second. */
  readonly gbps: number;
  /** Bytes one expert moves over the link. */
  readonly expertBytes: number;
}

export interface E2eRunSpec {
  readonly model: string;
  readonly config: E2eConfigName;
  readonly shards: number;
  /** Per-shard device budget for lru and expertflow ("25%"); resident runs at 100 %. */
  readonly budget: string;
  readonly link?: SimulatedLinkSpec;
  readonly numLayers: number;
  readonly numExperts: number;
  readonly concurrency: number;
  readonly warmup: readonly Prompt[];
  readonly measured: readonly Prompt[];
  readonly maxTokens: number;
  readonly seed: number;
  readonly requestTimeoutMs: number;
  /** Sequences per decode step of the expertflow-arrival and expertflow-regroup configurations. */
  readonly stepBatch?: number;
  readonly log?: (line: string) => void;
}

export interface E2eRunResult {
  readonly summary: Summary;
  /** Output tokens of the completed requests over the measured run's span (first send to last end), per second. */
  readonly tokensPerS: number;
  readonly elapsedS: number;
  readonly outputTokens: number;
  readonly cache: ShardCacheReport[];
  /** Seconds to start the mesh, preload and warm up. */
  readonly setupS: number;
}

export async function runE2eConfig(spec: E2eRunSpec): Promise<E2eRunResult> {
  const t0 = performance.now();
  const link = spec.link ? ["--link-gbps", String(spec.link.gbps), "--link-expert-bytes", String(spec.link.expertBytes)] : [];
  const mesh = await startMesh({
    model: spec.model,
    shards: spec.shards,
    replicas: 1,
    deviceBudget: spec.config === "resident" ? "100%" : spec.budget,
    policy: spec.config.startsWith("expertflow") ? "expertflow" : "lru",
    shardArgs: link,
    routerArgs: routerArgs(spec.config, spec.stepBatch ?? 4),
    log: spec.log,
  });
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, retry: false, timeoutMs: spec.requestTimeoutMs });
  const shards = mesh.shards.map((s) => s.address);
  try {
    if (spec.config === "resident") await preloadAll(shards, mesh.credentials(), new Placement({ numLayers: spec.numLayers, numExperts: spec.numExperts, shards: spec.shards, replicas: 1 }));
    const load = { kind: "closed", concurrency: spec.concurrency } as const;
    const sampling = { maxTokens: spec.maxTokens, temperature: 0, seed: spec.seed };
    const common = { load, sampling, warmupS: 0, durationS: 3600, requestTimeoutMs: spec.requestTimeoutMs, seed: spec.seed };
    const objectives = { percentile: 99 };
    if (spec.warmup.length > 0) {
      const warm = summarize(await runLoad(client, { ...common, prompts: spec.warmup, maxRequests: spec.warmup.length }), objectives);
      if (warm.requests.failed > 0) throw new Error(`warm-up of ${spec.config}: ${warm.requests.failed} requests failed: ${JSON.stringify(warm.errors[0])}`);
    }
    const setupS = (performance.now() - t0) / 1000;
    const before = await readCacheStats(shards, mesh.credentials());
    const run = await runLoad(client, { ...common, prompts: spec.measured, maxRequests: spec.measured.length });
    const after = await readCacheStats(shards, mesh.credentials());
    // The summary's throughput divides by the scheduled duration (an hour here): take the run's real span.
    const sent = run.records.filter((r) => r.sentMs !== undefined);
    const elapsedS = (Math.max(...sent.map((r) => r.endMs ?? 0)) - Math.min(...sent.map((r) => r.sentMs!))) / 1000;
    const outputTokens = run.records.filter((r) => r.code === "OK").reduce((a, r) => a + r.outputTokens, 0);
    return { summary: summarize(run, objectives), tokensPerS: outputTokens / elapsedS, elapsedS, outputTokens, cache: cacheReport(before, after), setupS };
  } finally {
    client.close();
    await mesh.stop();
  }
}

/** Loads every expert that each shard owns (Prefetch, high priority) and waits until all are resident. */
async function preloadAll(addresses: readonly string[], creds: ChannelCredentials, placement: Placement): Promise<void> {
  await Promise.all(
    addresses.map(async (address, shard) => {
      const client = new ExpertShardServiceClient(address, creds, channelOptions());
      const unary = <Req, Res>(method: (r: Req, m: Metadata, o: object, cb: (e: Error | null, r: Res) => void) => unknown, request: Req) =>
        new Promise<Res>((resolve, reject) => method.call(client, request, new Metadata(), { deadline: Date.now() + 30_000 }, (e, r) => (e ? reject(e) : resolve(r))));
      try {
        const owned = placement.ownedBy(shard);
        const layers = new Map<number, number[]>();
        for (const [layer, expert] of owned) layers.set(layer, [...(layers.get(layer) ?? []), expert]);
        for (const [layer, expertIds] of layers) {
          await unary(client.prefetch, { layer, expertIds, priority: PrefetchPriority.PREFETCH_PRIORITY_HIGH });
        }
        const end = Date.now() + 120_000;
        for (;;) {
          const stats = await unary<object, CacheStatsResponse>(client.cacheStats, {});
          const resident = stats.tiers.find((t) => t.tier === CacheTier.CACHE_TIER_DEVICE)?.resident.length ?? 0;
          if (resident >= owned.length) return;
          if (Date.now() > end) throw new Error(`shard ${shard} (${address}): ${resident} of ${owned.length} experts resident after 120 s of preloading`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } finally {
        client.close();
      }
    }),
  );
}
