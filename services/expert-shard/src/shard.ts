// An expert shard: the experts that the static placement gives it, their tiered store, the compute
// workers, the prefetch queue, and what it reports (CacheStats, heartbeat snapshots). The RPC handlers
// (run-experts.ts, prefetch.ts, cache-stats.ts) are thin layers over this.

import { Checkpoint, isModelError, type MoeConfig } from "@expertmesh/model";
import { cachePolicy, expertKey, Placement, type LinkView } from "@expertmesh/moe";
import type { PrefetchHint } from "@expertmesh/proto";
import { ConfigError, InvalidArgumentError, NotFoundError, silentLogger, UnavailableError, type Logger } from "@expertmesh/runtime";
import { budgetBytes, parseBudget } from "./budget.js";
import { ComputePool } from "./compute-pool.js";
import type { ShardConfig } from "./config.js";
import { DiskReader } from "./disk-reader.js";
import { ExpertStore } from "./expert-store.js";
import { ExpertflowFeed } from "./expertflow-feed.js";
import { PrefetchQueue } from "./prefetch-queue.js";
import { SimulatedLink } from "./simulated-link.js";
import { WorkerGoneError } from "./worker-rpc.js";

/** Prefetch loads running at once (disk reads are serialised by the disk worker anyway). */
const PREFETCH_CONCURRENCY = 2;

/** What a heartbeat publishes (expertmesh.v1.shards.<id>). */
export interface ShardSnapshot {
  readonly shardId: number;
  readonly policy: string;
  /** Owned experts as [layer, expert] pairs. */
  readonly owned: readonly (readonly [number, number])[];
  /** Device-resident experts as [layer, expert] pairs. */
  readonly deviceResident: readonly (readonly [number, number])[];
  readonly deviceSlots: number;
  readonly deviceBudgetBytes: number;
  readonly inFlightCalls: number;
  readonly computeQueued: number;
  readonly prefetchWaiting: number;
  readonly prefetchRunning: number;
  readonly counters: Readonly<Record<string, number>>;
  /** Epoch milliseconds. */
  readonly at: number;
}

export interface ShardOptions {
  readonly logger?: Logger;
  /** Called when a worker dies on its own: the shard cannot serve what it held (report NOT_SERVING). */
  readonly onFatal?: (error: Error) => void;
}

export class ExpertShard {
  readonly id: number;
  readonly model: MoeConfig;
  readonly placement: Placement;
  /** Bytes of the largest expert as stored: what a device slot is budgeted at (mixed widths take the widest). */
  readonly expertBytes: number;
  /** Bytes of one expert as stored (f32, or its low-bit width): what it costs on the device and in heartbeats. */
  readonly expertBytesOf: (layer: number, expert: number) => number;
  readonly deviceBudgetBytes: number;
  readonly hostBudgetBytes: number;
  readonly maxTokensPerCall: number;
  readonly maxConcurrentCalls: number;
  readonly store: ExpertStore;
  /** With --link-gbps: the simulated host→device link every load waits for. */
  readonly link: SimulatedLink | undefined;
  readonly #owned: ReadonlySet<number>;
  readonly #pool: ComputePool;
  readonly #disk: DiskReader;
  readonly #prefetch: PrefetchQueue;
  /** With --policy expertflow: what drives the policy (hints, gate decisions). */
  readonly #feed: ExpertflowFeed | undefined;
  #inFlight = 0;
  #closing: Promise<void> | undefined;
  /** Mean milliseconds of one expert run and mean experts per call (exponential averages): the policy's compute time per layer-step. */
  #runMs = NaN;
  #expertsPerCall = NaN;
  readonly #startedMs = performance.now();

  private constructor(init: {
    config: ShardConfig;
    checkpoint: Checkpoint;
    placement: Placement;
    owned: ReadonlySet<number>;
    deviceBudgetBytes: number;
    hostBudgetBytes: number;
    pool: ComputePool;
    disk: DiskReader;
    logger: Logger;
  }) {
    const { config, checkpoint } = init;
    this.id = config.shardId;
    this.model = checkpoint.config;
    this.placement = init.placement;
    this.expertBytes = checkpoint.expertBytes();
    this.expertBytesOf = (layer, expert) => checkpoint.expertBytes(layer, expert);
    this.deviceBudgetBytes = init.deviceBudgetBytes;
    this.hostBudgetBytes = init.hostBudgetBytes;
    this.maxTokensPerCall = config.maxTokensPerCall;
    this.maxConcurrentCalls = config.maxConcurrentCalls;
    this.#owned = init.owned;
    this.#pool = init.pool;
    this.#disk = init.disk;
    const { numLayers: L, numExperts: E } = this.model;
    const slots = Math.floor(init.deviceBudgetBytes / this.expertBytes);
    const entry = cachePolicy(config.policy);
    const policy = entry.create({ numLayers: L, numExperts: E, capacity: slots });
    this.#feed = entry.predictive ? new ExpertflowFeed(policy, L, E) : undefined;
    this.link =
      config.linkGbps === undefined
        ? undefined
        : new SimulatedLink({ gbps: config.linkGbps, expertBytes: config.linkExpertBytes ?? this.expertBytes });
    this.store = new ExpertStore({
      numExperts: this.model.numExperts,
      expertBytes: this.expertBytes,
      deviceBudgetBytes: init.deviceBudgetBytes,
      hostBudgetBytes: init.hostBudgetBytes,
      policy,
      disk: init.disk,
      pool: init.pool,
      link: this.link,
      // Each expert's real bytes (--link-expert-bytes, a simulated size, scales them as it scales the largest).
      linkBytesOf: (layer, expert) =>
        Math.round(((config.linkExpertBytes ?? this.expertBytes) * this.expertBytesOf(layer, expert)) / this.expertBytes),
    });
    this.#prefetch = new PrefetchQueue({
      capacity: config.prefetchQueue,
      concurrency: PREFETCH_CONCURRENCY,
      // A low-priority load waited in the queue: by now the policy may rather keep what it would evict.
      load: (key, high) => (high || this.#stillWorthLoading(key) ? this.store.prefetch(key) : Promise.resolve()),
      onError: (key, error) => {
        if (this.#closing === undefined) init.logger.warn("prefetch failed", { key, error });
      },
    });
  }

  /** Opens the model, resolves the budgets (ConfigError naming the key when one holds no expert), starts the workers. */
  static async create(config: ShardConfig, options: ShardOptions = {}): Promise<ExpertShard> {
    const logger = options.logger ?? silentLogger;
    let checkpoint: Checkpoint;
    try {
      checkpoint = Checkpoint.open(config.model);
    } catch (error) {
      if (!isModelError(error)) throw error;
      throw new ConfigError("model", "--model", config.model, `config model: ${(error as Error).message}`);
    }
    const { numLayers: L, numExperts: E } = checkpoint.config;
    const placement = new Placement({ numLayers: L, numExperts: E, shards: config.shards, replicas: config.replicas });
    const owned = new Set(placement.ownedBy(config.shardId).map(([layer, expert]) => expertKey({ layer, expert }, E)));
    if (owned.size === 0) {
      const message = `config shards: shard ${config.shardId} owns no expert (${L * E} experts over ${config.shards} shards)`;
      throw new ConfigError("shards", "--shards", String(config.shards), message);
    }
    const expertBytes = checkpoint.expertBytes();
    const ownedBytes = owned.size * expertBytes;
    const resolve = (key: "deviceBudget" | "hostBudget", flag: string): number => {
      const text = config[key];
      const parsed = parseBudget(text);
      if (!parsed.ok) throw new ConfigError(key, flag, text, `config ${key}: expected ${parsed.expected}`);
      const bytes = budgetBytes(parsed.budget, ownedBytes);
      if (bytes < expertBytes) {
        const message =
          `config ${key}: ${JSON.stringify(text)} is ${bytes} bytes, less than one expert (${expertBytes} bytes); ` +
          `shard ${config.shardId} owns ${owned.size} experts (${ownedBytes} bytes)`;
        throw new ConfigError(key, flag, text, message);
      }
      return bytes;
    };
    const deviceBudgetBytes = resolve("deviceBudget", "--device-budget");
    const { minSlots } = cachePolicy(config.policy);
    const slots = Math.floor(deviceBudgetBytes / expertBytes);
    if (slots < minSlots) {
      const message =
        `config deviceBudget: ${JSON.stringify(config.deviceBudget)} holds ${slots} expert${slots === 1 ? "" : "s"} of ${expertBytes} bytes on shard ${config.shardId} ` +
        `(${owned.size} owned); policy ${config.policy} needs at least ${minSlots} (${minSlots * expertBytes} bytes, ` +
        `${((100 * minSlots) / owned.size).toFixed(1)}% of the owned experts)`;
      throw new ConfigError("deviceBudget", "--device-budget", config.deviceBudget, message);
    }
    const hostBudgetBytes = resolve("hostBudget", "--host-budget");

    let fatal = false;
    const onCrash = (error: Error): void => {
      if (fatal) return;
      fatal = true;
      logger.error("worker died; shard can no longer serve", { error });
      options.onFatal?.(error);
    };
    const disk = new DiskReader(config.model, onCrash);
    let pool: ComputePool;
    try {
      pool = await ComputePool.start({
        workers: config.computeWorkers,
        compute: config.compute as "worker" | "inline",
        hiddenSize: checkpoint.config.hiddenSize,
        intermediateSize: checkpoint.config.intermediateSize,
        threads: config.threads,
        provider: config.provider,
        onCrash,
      });
    } catch (error) {
      await disk.close();
      // Almost always the provider (e.g. cuda where its libraries are missing): name that key.
      const why = (error as Error).message;
      const message = `config provider: no onnxruntime session with provider ${config.provider} (threads ${config.threads}): ${why}`;
      throw new ConfigError("provider", "--provider", config.provider, message);
    }
    return new ExpertShard({ config, checkpoint, placement, owned, deviceBudgetBytes, hostBudgetBytes, pool, disk, logger });
  }

  /** RunExperts calls running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Key of (layer, expert) for the store. */
  key(layer: number, expert: number): number {
    return expertKey({ layer, expert }, this.model.numExperts);
  }

  /** Throws INVALID_ARGUMENT unless layer is in [0, L). */
  checkLayer(layer: number): void {
    const L = this.model.numLayers;
    if (layer >= L) {
      throw new InvalidArgumentError("layer", `out of range: must be below ${L}, got ${layer}`, { limit: L - 1, value: layer });
    }
  }

  /** Throws INVALID_ARGUMENT for an expert id out of [0, E), NOT_FOUND for one this shard does not own. */
  checkOwned(layer: number, expert: number, field: string): number {
    const E = this.model.numExperts;
    if (expert >= E) {
      throw new InvalidArgumentError(field, `expert id out of range: must be below ${E}, got ${expert}`, { limit: E - 1, value: expert });
    }
    const key = this.key(layer, expert);
    if (!this.#owned.has(key)) {
      const owners = this.placement.owners(layer, expert).join(", ");
      throw new NotFoundError("expert", `${layer}/${expert}`, {
        reason: "EXPERT_NOT_OWNED",
        message: `expert ${expert} of layer ${layer} is not owned by shard ${this.id} (owners: shard ${owners})`,
        metadata: { shardId: String(this.id), owners },
      });
    }
    return key;
  }

  /** Counts a RunExperts call for the snapshot; call the returned function when it ends. */
  enter(): () => void {
    this.#inFlight++;
    let left = false;
    return () => {
      if (!left) this.#inFlight--;
      left = true;
    };
  }

  /**
   * Computes expert `key` on x [rows, D] (transferred): acquires it (pinned, loading it on a miss),
   * runs it in its worker, releases it. Nothing starts once `signal` has aborted.
   */
  async compute(key: number, x: Float32Array, rows: number, signal?: AbortSignal): Promise<{ y: Float32Array; wasResident: boolean }> {
    try {
      const acquired = await this.store.acquire(key, signal);
      try {
        const t0 = performance.now();
        const y = await this.#pool.run(acquired.value, x, rows, signal);
        const ms = performance.now() - t0;
        this.#runMs = Number.isFinite(this.#runMs) ? 0.9 * this.#runMs + 0.1 * ms : ms;
        return { y, wasResident: acquired.hit };
      } finally {
        acquired.release();
      }
    } catch (error) {
      // A dead or stopped worker: another replica can serve the call.
      if (error instanceof WorkerGoneError) {
        throw new UnavailableError(`shard ${this.id}: ${error.message}`, { reason: "SHARD_WORKER_GONE", cause: error });
      }
      throw error;
    }
  }

  /**
   * Computes one call's experts: acquires all at once (pinned; misses load meanwhile), then runs them
   * with one message per compute worker that holds some (compute-pool runMany), then releases them.
   * The x buffers are transferred. Nothing starts once `signal` has aborted. Only when every expert is
   * resident now (the acquires are hits, pinned at once, synchronously): a call
   * that must load some computes its experts one by one (acquire, run, release) as before, so that it
   * never holds slots while it waits for others (a call may name more experts than there are slots).
   */
  async computeMany(
    work: readonly { key: number; x: Float32Array; rows: number }[],
    signal?: AbortSignal,
  ): Promise<{ y: Float32Array; wasResident: boolean }[]> {
    if (signal?.aborted) throw signal.reason;
    const acquired = this.store.acquireAllResident(work.map((w) => w.key));
    if (acquired === undefined) {
      const out = await Promise.allSettled(work.map((w) => this.compute(w.key, w.x, w.rows, signal)));
      const failed = out.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      return out.map((s) => (s as PromiseFulfilledResult<{ y: Float32Array; wasResident: boolean }>).value);
    }
    try {
      const ys = await this.#pool.runMany(
        work.map((w, i) => ({ expert: acquired[i]!.value, x: w.x, rows: w.rows })),
        signal,
      );
      return ys.map((y) => ({ y, wasResident: true }));
    } catch (error) {
      if (error instanceof WorkerGoneError) {
        throw new UnavailableError(`shard ${this.id}: ${error.message}`, { reason: "SHARD_WORKER_GONE", cause: error });
      }
      throw error;
    } finally {
      for (const a of acquired) a.release();
    }
  }

  /** Queues a prefetch of an owned expert ("resident" when there is nothing to do). */
  prefetch(key: number, high: boolean): "queued" | "resident" | "dropped" {
    if (this.store.isResident(key)) return "resident";
    return this.#prefetch.offer(key, high);
  }

  /**
   * A prefetch hint from NATS. With --policy expertflow: updates the predicted demand and queues the
   * owned experts it names that are worth loading (corrections at high priority); with lru: ignored (LRU
   * serves on demand). Returns how many loads were queued.
   */
  hint(h: PrefetchHint): number {
    const feed = this.#feed;
    if (feed === undefined) return 0;
    let queued = 0;
    const link = this.#linkView();
    for (const { key, high } of feed.hint(
      h,
      (k) => this.#owned.has(k),
      (k) => this.store.isResident(k),
    )) {
      const resident = this.store.deviceResident();
      if (!high && !feed.worthLoading(key, resident, this.store.deviceSlots - resident.length, link)) continue;
      if (this.#prefetch.offer(key, high) === "queued") queued++;
    }
    return queued;
  }

  /** A RunExperts call for `layer` needs `keys` (the gate's decision); call the returned function when it has computed. */
  beginCall(layer: number, keys: readonly number[]): () => void {
    const feed = this.#feed;
    if (feed === undefined) return () => {};
    const need = Int32Array.from(new Set(keys)).sort();
    this.#expertsPerCall = Number.isFinite(this.#expertsPerCall) ? 0.9 * this.#expertsPerCall + 0.1 * need.length : need.length;
    feed.beginCall(layer, need);
    return () => feed.endCall(layer, need);
  }

  #stillWorthLoading(key: number): boolean {
    const feed = this.#feed;
    if (feed === undefined || this.store.isResident(key)) return true;
    const resident = this.store.deviceResident();
    return feed.worthLoading(key, resident, this.store.deviceSlots - resident.length, this.#linkView());
  }

  /** With a simulated link: what it is doing, for the policy's prefetch decisions (as the simulator tells them). */
  #linkView(): LinkView | undefined {
    const link = this.link;
    if (link === undefined) return undefined;
    const { linkBusyMs } = link.counters();
    return {
      nowMs: performance.now() - this.#startedMs,
      backlogMs: link.pending() * link.transferMs,
      transferMs: link.transferMs,
      // Compute only (expert runs of a call), not the call's waits for loads: as τ in the simulator.
      layerMs: Number.isFinite(this.#runMs) && Number.isFinite(this.#expertsPerCall) ? this.#runMs * this.#expertsPerCall : 0,
      busyMs: linkBusyMs,
    };
  }

  snapshot(): ShardSnapshot {
    const E = this.model.numExperts;
    const pair = (key: number) => [Math.floor(key / E), key % E] as const;
    return {
      shardId: this.id,
      policy: this.store.policyName,
      owned: [...this.#owned].sort((a, b) => a - b).map(pair),
      deviceResident: this.store
        .deviceResident()
        .sort((a, b) => a - b)
        .map(pair),
      deviceSlots: this.store.deviceSlots,
      deviceBudgetBytes: this.deviceBudgetBytes,
      inFlightCalls: this.#inFlight,
      computeQueued: this.#pool.busy,
      prefetchWaiting: this.#prefetch.waiting,
      prefetchRunning: this.#prefetch.running,
      counters: { ...this.store.counters(), runsStarted: this.#pool.runsStarted, runsDropped: this.#pool.runsDropped },
      at: Date.now(),
    };
  }

  /** Experts each compute worker holds now (what the device really holds; tests check it against the budget). */
  workerResidency(): number[] {
    return this.#pool.residentPerWorker();
  }

  /** Stops prefetching and terminates the workers (after a drain). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#prefetch.close();
      await Promise.all([this.#pool.close(), this.#disk.close()]);
    })();
    return this.#closing;
  }
}
