// Prometheus metrics of one process (prom-client): the per-RPC metrics that createServer records for
// every call, and the service metrics that the router, shards and predictor update. Names follow
// `expertmesh_<thing>_<unit>` (counters end in `_total`); RPC labels follow go-grpc-prometheus
// (grpc_service, grpc_method, grpc_code).
//
// Two ways to feed a service metric: update it where the event happens (`metrics.hintsPublished.inc()`),
// or register a source read at each scrape (`metrics.observeCache(() => store.tierStats())`), for
// state that already keeps its own cumulative counters. A metric fed by a source is overwritten at each
// scrape: use one way per metric. Metrics live in the thread that updates them: a worker thread's
// registry is not scraped, so count in the main thread (or post the counts to it).

import { CacheTier } from "@expertmesh/proto";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

type RpcLabel = "grpc_service" | "grpc_method";

/** Seconds: 0.5 ms (a cached RunExperts on loopback) to 60 s (a long Generate stream). */
export const RPC_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
]);

/** One cache tier's cumulative counters (the shape of the proto's CacheTierStats; extra fields ignored). */
export interface CacheTierSnapshot {
  /** "device" / "host", or a proto CacheTier value. */
  readonly tier: string | number;
  readonly hits: number;
  readonly misses: number;
  readonly loads: number;
  readonly evictions: number;
  readonly bytesLoaded: number;
  readonly prefetchLoads?: number;
  readonly wastedPrefetches?: number;
  readonly usedBytes?: number;
  readonly budgetBytes?: number;
}

export interface MeshMetricsOptions {
  /** Also export prom-client's process and Node.js metrics (CPU, memory, event-loop lag, GC). Default false. */
  readonly processMetrics?: boolean;
}

export class MeshMetrics {
  readonly registry = new Registry();

  // Recorded by createServer for every application RPC (health calls excluded).
  readonly rpcRequests = this.#counter("expertmesh_rpc_requests_total", "RPCs finished, by method and gRPC status code.", [
    "grpc_service",
    "grpc_method",
    "grpc_code",
  ]);
  readonly rpcDuration = new Histogram<RpcLabel>({
    name: "expertmesh_rpc_duration_seconds",
    help: "Time from the start of an RPC to its status (a server stream: to its last message), by method.",
    labelNames: ["grpc_service", "grpc_method"],
    buckets: [...RPC_DURATION_BUCKETS],
    registers: [this.registry],
  });
  readonly rpcInFlight = new Gauge<RpcLabel>({
    name: "expertmesh_rpc_in_flight_requests",
    help: "RPCs running now, by method.",
    labelNames: ["grpc_service", "grpc_method"],
    registers: [this.registry],
  });

  // Every server's listener (listener.ts): connections open now, and connections refused by reason
  // (cap: the connection cap; tls: a failed handshake, e.g. no or an untrusted certificate; peer: a
  // certificate that names no allowed identity; pings: too-frequent keepalive pings).
  readonly connectionsOpen = new Gauge({
    name: "expertmesh_connections_open",
    help: "Client connections open now on the gRPC listener.",
    registers: [this.registry],
  });
  readonly connectionsRefused = this.#counter(
    "expertmesh_connections_refused_total",
    "Client connections refused or closed by the listener, by reason.",
    ["reason"],
  );

  // Expert shard: prefetch hints received on NATS, by outcome (accepted, rate_limited, oversized,
  // malformed, untrusted) and the experts they named that were let through to prefetch.
  readonly hintsReceived = this.#counter("expertmesh_hints_received_total", "Prefetch hints received on NATS, by outcome.", ["outcome"]);
  readonly hintExpertsAdmitted = this.#counter(
    "expertmesh_hint_experts_admitted_total",
    "Experts named by accepted hints and passed to prefetch.",
    [],
  );

  // Router: the per-request metrics (TTFT, inter-token latency, tokens, running/waiting) are the
  // router's own, with vLLM's names (services/router/src/request-metrics.ts).

  // Expert shard: per cache tier.
  readonly cacheHits = this.#counter("expertmesh_cache_hits_total", "Expert lookups that found the expert resident, by tier.", ["tier"]);
  readonly cacheMisses = this.#counter("expertmesh_cache_misses_total", "Expert lookups that did not find the expert resident, by tier.", [
    "tier",
  ]);
  readonly cacheLoads = this.#counter("expertmesh_cache_loads_total", "Experts loaded into a tier (on demand or prefetched), by tier.", [
    "tier",
  ]);
  readonly cachePrefetchLoads = this.#counter("expertmesh_cache_prefetch_loads_total", "Loads made ahead of demand (prefetch), by tier.", [
    "tier",
  ]);
  readonly cacheWastedPrefetches = this.#counter(
    "expertmesh_cache_wasted_prefetches_total",
    "Prefetched experts evicted before any use, by tier.",
    ["tier"],
  );
  readonly cacheEvictions = this.#counter("expertmesh_cache_evictions_total", "Experts evicted from a tier, by tier.", ["tier"]);
  readonly cacheLoadedBytes = this.#counter("expertmesh_cache_loaded_bytes_total", "Bytes moved into a tier by loads, by tier.", ["tier"]);
  readonly cacheUsedBytes = new Gauge<"tier">({
    name: "expertmesh_cache_used_bytes",
    help: "Bytes held by a tier now.",
    labelNames: ["tier"],
    registers: [this.registry],
  });
  readonly cacheBudgetBytes = new Gauge<"tier">({
    name: "expertmesh_cache_budget_bytes",
    help: "Byte budget of a tier.",
    labelNames: ["tier"],
    registers: [this.registry],
  });

  readonly #cacheSources: (() => Iterable<CacheTierSnapshot>)[] = [];

  constructor(options: MeshMetricsOptions = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Content type of `text()` (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Reads the registered sources, then renders every metric in the Prometheus text format. */
  async text(): Promise<string> {
    this.#refresh();
    return this.registry.metrics();
  }

  /**
   * Reads cache counters from `source` at each scrape, e.g. `metrics.observeCache(() => store.tierStats())`.
   * Several sources add up (tiers of the same name are summed).
   */
  observeCache(source: () => Iterable<CacheTierSnapshot>): void {
    this.#cacheSources.push(source);
  }

  #refresh(): void {
    if (this.#cacheSources.length > 0) {
      const counters = [this.cacheHits, this.cacheMisses, this.cacheLoads, this.cachePrefetchLoads, this.cacheWastedPrefetches];
      for (const metric of [...counters, this.cacheEvictions, this.cacheLoadedBytes]) metric.reset();
      this.cacheUsedBytes.reset();
      this.cacheBudgetBytes.reset();
      for (const source of this.#cacheSources) {
        for (const s of source()) {
          const labels = { tier: tierName(s.tier) };
          this.cacheHits.inc(labels, s.hits);
          this.cacheMisses.inc(labels, s.misses);
          this.cacheLoads.inc(labels, s.loads);
          this.cacheEvictions.inc(labels, s.evictions);
          this.cacheLoadedBytes.inc(labels, s.bytesLoaded);
          if (s.prefetchLoads !== undefined) this.cachePrefetchLoads.inc(labels, s.prefetchLoads);
          if (s.wastedPrefetches !== undefined) this.cacheWastedPrefetches.inc(labels, s.wastedPrefetches);
          if (s.usedBytes !== undefined) this.cacheUsedBytes.inc(labels, s.usedBytes);
          if (s.budgetBytes !== undefined) this.cacheBudgetBytes.inc(labels, s.budgetBytes);
        }
      }
    }
  }

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }
}

/** "device" for CacheTier.CACHE_TIER_DEVICE, and so on; strings pass through. */
export function tierName(tier: string | number): string {
  if (typeof tier === "string") return tier;
  const name = CacheTier[tier];
  return typeof name === "string" ? name.replace(/^CACHE_TIER_/, "").toLowerCase() : String(tier);
}

let processMetrics: MeshMetrics | undefined;

/** The process's (this thread's) metrics, created on first use with the process metrics included. */
export function defaultMetrics(): MeshMetrics {
  return (processMetrics ??= new MeshMetrics({ processMetrics: true }));
}
