// The shard's experts across three tiers: device (resident in a compute worker, ready to run), host
// (fp32 or low-bit weights in this thread) and disk (the checkpoint). A TieredExpertCache decides what
// moves: it keeps the device tier within its budget (loads under way included), never starts a load
// twice, and never evicts an expert that compute has pinned. This file adds the loader, cancellable
// acquires, the count of wasted prefetches, and the tiers' stats in the proto's terms.

import { CacheTier, type TierStats } from "@expertmesh/proto";
import { expertFromKey, TieredExpertCache, type Acquired, type EvictionPolicy } from "@expertmesh/moe";
import type { ExpertPayload } from "@expertmesh/model";
import type { ComputePool, DeviceExpert } from "./compute-pool.js";
import type { DiskReader } from "./disk-reader.js";
import type { SimulatedLink } from "./simulated-link.js";

export interface ExpertStoreOptions {
  readonly numExperts: number; // E, for keys: layer * E + expert
  readonly expertBytes: number;
  readonly deviceBudgetBytes: number;
  readonly hostBudgetBytes: number;
  readonly policy: EvictionPolicy;
  readonly disk: DiskReader;
  readonly pool: ComputePool;
  /** With --link-gbps: every host→device load also waits for its transfer over this simulated link. */
  readonly link?: SimulatedLink;
  /** Bytes an expert moves over the link (its own size: experts of a mixed-precision checkpoint differ). */
  readonly linkBytesOf?: (layer: number, expert: number) => number;
}

export class ExpertStore {
  readonly #options: ExpertStoreOptions;
  readonly #cache: TieredExpertCache<ExpertPayload, DeviceExpert>;
  /** Device-resident experts that no acquire has used since they were loaded (prefetched, not yet needed). */
  readonly #unused = new Set<number>();
  #wastedPrefetches = 0;

  constructor(options: ExpertStoreOptions) {
    this.#options = options;
    const E = options.numExperts;
    this.#cache = new TieredExpertCache<ExpertPayload, DeviceExpert>({
      expertBytes: options.expertBytes,
      deviceBudgetBytes: options.deviceBudgetBytes,
      hostBudgetBytes: options.hostBudgetBytes,
      policy: options.policy,
      loader: {
        loadHost: (key) => {
          const { layer, expert } = expertFromKey(key, E);
          return options.disk.read(layer, expert);
        },
        toDevice: async (key, host, { prefetch }) => {
          // The one place a host→device load happens: the cache runs it asynchronously, once per
          // expert however many callers wait for it, and serves resident experts meanwhile.
          if (options.link) {
            const { layer, expert } = expertFromKey(key, E);
            await options.link.transfer(prefetch, options.linkBytesOf?.(layer, expert));
          }
          const device = await options.pool.load(key, host);
          this.#unused.add(key);
          return device;
        },
        dropDevice: (key, device) => {
          // An expert evicted before any acquire used it was loaded by a prefetch (an acquire pins
          // the expert it loads, so it cannot be evicted before that acquire returns).
          if (this.#unused.delete(key)) this.#wastedPrefetches++;
          options.pool.drop(device);
        },
      },
    });
  }

  /** Most experts the device tier holds at once. */
  get deviceSlots(): number {
    return this.#cache.deviceSlots;
  }

  get policyName(): string {
    return this.#cache.policyName;
  }

  isResident(key: number): boolean {
    return this.#cache.isDeviceResident(key);
  }

  /**
   * All of `keys` pinned at once when every one is resident now (hits, counted as acquire's), else none
   * pinned and undefined: the synchronous path of a call whose experts are all on the device.
   */
  acquireAllResident(keys: readonly number[]): Acquired<DeviceExpert>[] | undefined {
    for (const key of keys) if (!this.#cache.isDeviceResident(key)) return undefined;
    return keys.map((key) => {
      this.#unused.delete(key);
      return this.#cache.acquireResident(key)!;
    });
  }

  deviceResident(): number[] {
    return this.#cache.deviceResident();
  }

  /**
   * The expert for compute, pinned until release(); loads it if needed (hit = it was resident).
   * When `signal` aborts first this rejects at once; a load already started goes on (another call may
   * need it), and the pin it would have taken is released as soon as it lands.
   */
  acquire(key: number, signal?: AbortSignal): Promise<Acquired<DeviceExpert>> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const pending = this.#cache.acquire(key);
    return new Promise((resolve, reject) => {
      let abandoned = false;
      const onAbort = (): void => {
        abandoned = true;
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      pending.then(
        (acquired) => {
          signal?.removeEventListener("abort", onAbort);
          this.#unused.delete(key);
          if (abandoned) acquired.release();
          else resolve(acquired);
        },
        (error: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }

  /** Loads an expert ahead of need; resolves once it is resident. */
  prefetch(key: number): Promise<void> {
    // A prefetch that would queue behind more than one transfer on a busy link is skipped: it would
    // arrive late and delay the demand loads queued after it.
    if (this.#options.link && this.#options.link.pending() > 1) return Promise.resolve();
    return this.#cache.prefetch(key);
  }

  /** The device tier then the host tier, as CacheStats reports them. */
  tierStats(): TierStats[] {
    const c = this.#cache.counters;
    const { expertBytes, numExperts: E } = this.#options;
    const refs = (keys: number[]) =>
      keys
        .sort((a, b) => a - b)
        .map((key) => {
          const { layer, expert } = expertFromKey(key, E);
          return { layer, expertId: expert };
        });
    const device = this.#cache.deviceResident();
    const host = this.#cache.hostResident();
    return [
      {
        tier: CacheTier.CACHE_TIER_DEVICE,
        resident: refs(device),
        hits: c.hits,
        misses: c.misses,
        loads: c.loads,
        prefetchLoads: c.prefetchLoads,
        wastedPrefetches: this.#wastedPrefetches,
        evictions: c.evictions,
        bytesLoaded: c.bytesToDevice,
        usedBytes: device.length * expertBytes,
        budgetBytes: this.#options.deviceBudgetBytes,
      },
      {
        tier: CacheTier.CACHE_TIER_HOST,
        resident: refs(host),
        hits: c.hostHits,
        misses: c.diskReads,
        loads: c.diskReads,
        prefetchLoads: 0, // the cache does not tell prefetch reads from demand reads on this tier
        wastedPrefetches: 0,
        evictions: c.hostEvictions,
        bytesLoaded: c.bytesFromDisk,
        usedBytes: host.length * expertBytes,
        budgetBytes: this.#options.hostBudgetBytes,
      },
    ];
  }

  /** The cache's counters (a copy). */
  counters(): Record<string, number> {
    return { ...this.#cache.counters, wastedPrefetches: this.#wastedPrefetches, ...this.#options.link?.counters() };
  }
}
