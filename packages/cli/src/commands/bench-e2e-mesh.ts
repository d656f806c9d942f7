// One configuration of `expertmesh bench e2e`: a mesh on loopback (launcher startMesh: nats-server,
// predictor, shards, router), preloaded when every expert is to be resident, warmed up with a closed-loop
// run, then measured with another (packages/loadtest) at each concurrency in turn (or, with bench e2e
// --rounds, in rounds interleaved with the other configurations' meshes), with each shard's device-tier
// counters and every process's CPU time read just before and after each measured run.
import type { ChannelCredentials } from "@grpc/grpc-js";
import { ExpertMeshClient } from "@expertmesh/client";
import { cacheReport, readCacheStats, runLoad, summarize, type Prompt, type ShardCacheReport, type Summary } from "@expertmesh/loadtest";
import { Placement } from "@expertmesh/moe";
import { CacheTier, ExpertShardServiceClient, PrefetchPriority } from "@expertmesh/proto";
import { channelOptions, unaryCall } from "@expertmesh/runtime";
import { startMesh, type Mesh } from "../launcher/index.js";
import { cpuMsPerToken, sampleCpu } from "./bench-e2e-cpu.js";

/**
 * resident-unary: all resident with the router's unary dispatch (one RunExperts per call): the A/B
 * baseline of the stream. resident-worker: all resident, the shards computing in a compute worker
 * (expert-shard --compute worker: one thread hop per call) instead of on the thread that serves the
 * stream (the default, --compute inline). resident-inline names that default explicitly.
 */
export type E2eConfigName =
  | "resident"
  | "resident-unary"
  | "resident-worker"
  | "resident-inline"
  | "lru"
  | "expertflow"
  | "expertflow-early"
  | "expertflow-arrival"
  | "expertflow-regroup";

/** Router flags of a configuration: the two scheduled ones decode `stepBatch` sequences per step, in arrival order or regrouped by predicted routes. */
function routerArgs(config: E2eConfigName, stepBatch: number): string[] {
  // expertflow-early: decode steps wait for their prediction, so that hints reach the shards before layer 0.
  if (config === "expertflow-early") return ["--hints-before-step"];
  if (config === "expertflow-arrival") return ["--schedule", "arrival", "--step-batch", String(stepBatch)];
  if (config === "expertflow-regroup") return ["--schedule", "regroup", "--step-batch", String(stepBatch)];
  if (config === "resident-unary") return ["--dispatch", "unary"];
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
  /** Closed-loop concurrencies, measured one after the other on the same mesh. */
  readonly concurrencies: readonly number[];
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
  readonly concurrency: number;
  readonly summary: Summary;
  /** Output tokens of the completed requests over the measured run's span (first send to last end), per second. */
  readonly tokensPerS: number;
  readonly elapsedS: number;
  readonly outputTokens: number;
  readonly cache: ShardCacheReport[];
  /** CPU ms per output token over the measured run, per process group (router, shards summed, predictor, nats). */
  readonly cpuMsPerToken: Record<string, number | null>;
  /** Seconds to start the mesh, preload and warm up. */
  readonly setupS: number;
}

export async function runE2eConfig(spec: E2eRunSpec): Promise<E2eRunResult[]> {
  const mesh = await startE2eConfig(spec);
  try {
    const results: E2eRunResult[] = [];
    for (const concurrency of spec.concurrencies) results.push(await mesh.measure(concurrency));
    return results;
  } finally {
    await mesh.stop();
  }
}

/** A configuration's mesh, started, preloaded and warmed up: measured as often as asked, then stopped. */
export interface E2eMesh {
  measure(concurrency: number): Promise<E2eRunResult>;
  stop(): Promise<void>;
}

export async function startE2eConfig(spec: E2eRunSpec): Promise<E2eMesh> {
  const t0 = performance.now();
  const link = spec.link ? ["--link-gbps", String(spec.link.gbps), "--link-expert-bytes", String(spec.link.expertBytes)] : [];
  const resident = spec.config.startsWith("resident");
  const mesh = await startMesh({
    model: spec.model,
    shards: spec.shards,
    replicas: 1,
    deviceBudget: resident ? "100%" : spec.budget,
    policy: spec.config.startsWith("expertflow") ? "expertflow" : "lru",
    // Predictions are consumed only by expertflow shards (prefetch hints) and its schedules: elsewhere they are work nothing uses.
    predictor: spec.config.startsWith("expertflow") ? undefined : false,
    shardArgs: [
      ...link,
      ...(spec.config === "resident-worker" ? ["--compute", "worker"] : spec.config === "resident-inline" ? ["--compute", "inline"] : []),
    ],
    routerArgs: routerArgs(spec.config, spec.stepBatch ?? 4),
    log: spec.log,
  });
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, retry: false, timeoutMs: spec.requestTimeoutMs });
  const shards = mesh.shards.map((s) => s.address);
  const stop = async (): Promise<void> => {
    client.close();
    await mesh.stop();
  };
  const sampling = { maxTokens: spec.maxTokens, temperature: 0, seed: spec.seed };
  const common = { sampling, warmupS: 0, durationS: 3600, requestTimeoutMs: spec.requestTimeoutMs, seed: spec.seed };
  const objectives = { percentile: 99 };
  try {
    if (resident)
      await preloadAll(
        shards,
        mesh.credentials(),
        new Placement({ numLayers: spec.numLayers, numExperts: spec.numExperts, shards: spec.shards, replicas: 1 }),
      );
    if (spec.warmup.length > 0) {
      const load = { kind: "closed", concurrency: Math.max(...spec.concurrencies) } as const;
      const warm = summarize(await runLoad(client, { ...common, load, prompts: spec.warmup, maxRequests: spec.warmup.length }), objectives);
      if (warm.requests.failed > 0)
        throw new Error(`warm-up of ${spec.config}: ${warm.requests.failed} requests failed: ${JSON.stringify(warm.errors[0])}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const setupS = (performance.now() - t0) / 1000;
  const pids = processIds(mesh);
  return {
    stop,
    measure: async (concurrency) => {
      const load = { kind: "closed", concurrency } as const;
      const before = await readCacheStats(shards, mesh.credentials());
      const cpuBefore = sampleCpu(pids);
      const run = await runLoad(client, { ...common, load, prompts: spec.measured, maxRequests: spec.measured.length });
      const cpuAfter = sampleCpu(pids);
      const after = await readCacheStats(shards, mesh.credentials());
      // The summary's throughput divides by the scheduled duration (an hour here): take the run's real span.
      const sent = run.records.filter((r) => r.sentMs !== undefined);
      const elapsedS = (Math.max(...sent.map((r) => r.endMs ?? 0)) - Math.min(...sent.map((r) => r.sentMs!))) / 1000;
      const outputTokens = run.records.filter((r) => r.code === "OK").reduce((a, r) => a + r.outputTokens, 0);
      return {
        concurrency,
        summary: summarize(run, objectives),
        tokensPerS: outputTokens / elapsedS,
        elapsedS,
        outputTokens,
        cache: cacheReport(before, after),
        cpuMsPerToken: cpuMsPerToken(cpuBefore, cpuAfter, outputTokens),
        setupS,
      };
    },
  };
}

/** The mesh's processes by role (shards summed). */
function processIds(mesh: Mesh): Record<string, number[]> {
  return {
    router: [mesh.router.process.pid],
    shards: mesh.shards.map((s) => s.process.pid),
    ...(mesh.predictor ? { predictor: [mesh.predictor.process.pid] } : {}),
    ...(mesh.nats ? { nats: [mesh.nats.process.pid] } : {}),
  };
}

/** Loads every expert that each shard owns (Prefetch, high priority) and waits until all are resident. */
async function preloadAll(addresses: readonly string[], creds: ChannelCredentials, placement: Placement): Promise<void> {
  await Promise.all(
    addresses.map(async (address, shard) => {
      const client = new ExpertShardServiceClient(address, creds, channelOptions());
      try {
        const owned = placement.ownedBy(shard);
        const layers = new Map<number, number[]>();
        for (const [layer, expert] of owned) layers.set(layer, [...(layers.get(layer) ?? []), expert]);
        for (const [layer, expertIds] of layers) {
          await unaryCall(
            client,
            "prefetch",
            { layer, expertIds, priority: PrefetchPriority.PREFETCH_PRIORITY_HIGH },
            { timeoutMs: 30_000 },
          );
        }
        const end = Date.now() + 120_000;
        for (;;) {
          const stats = await unaryCall(client, "cacheStats", {}, { timeoutMs: 30_000 });
          const resident = stats.tiers.find((t) => t.tier === CacheTier.CACHE_TIER_DEVICE)?.resident.length ?? 0;
          if (resident >= owned.length) return;
          if (Date.now() > end)
            throw new Error(`shard ${shard} (${address}): ${resident} of ${owned.length} experts resident after 120 s of preloading`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } finally {
        client.close();
      }
    }),
  );
}
