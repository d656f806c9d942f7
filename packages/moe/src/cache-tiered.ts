// A two-tier expert cache (device over host over disk) with byte budgets, in the spirit of
// mixtral-offloading's expert cache: a device tier of ready-to-run experts managed by an eviction policy,
// a host tier of decoded weights (LRU), and the checkpoint on disk below.
//
// Guarantees: the device tier never holds more than floor(deviceBudget / expertBytes) experts, counting
// loads under way; a load already under way is never started twice; an expert in use by compute (pinned)
// is never evicted. Counters keep loads (host→device transfers and their bytes) apart from stalls (an
// acquire that found the expert absent and had to wait).
import type { EvictionPolicy } from "./cache-policy.js";

export interface TierLoader<H, D> {
  /** Disk → host: read and decode an expert's weights. */
  loadHost(key: number): Promise<H>;
  /** Host → device: make the expert ready to run. `prefetch` tells a load ahead of need from a demand load. */
  toDevice(key: number, host: H, info: { prefetch: boolean }): Promise<D>;
  /** Called when an expert leaves the device tier. */
  dropDevice?(key: number, value: D): void;
}

export interface TieredCacheOptions<H, D> {
  expertBytes: number;
  deviceBudgetBytes: number;
  hostBudgetBytes: number;
  loader: TierLoader<H, D>;
  policy: EvictionPolicy;
}

export interface CacheCounters {
  hits: number;
  /** Acquires that found the expert absent from the device tier: compute waited (stalls). */
  misses: number;
  /** Host→device transfers, on demand or prefetched. */
  loads: number;
  prefetchLoads: number;
  bytesToDevice: number;
  evictions: number;
  diskReads: number;
  bytesFromDisk: number;
  hostHits: number;
  hostEvictions: number;
}

export interface Acquired<D> {
  value: D;
  hit: boolean;
  release(): void;
}

interface DeviceEntry<D> {
  value?: D;
  loading?: Promise<D>;
  pins: number;
}

export class TieredExpertCache<H, D> {
  readonly deviceSlots: number;
  readonly hostSlots: number;
  private readonly device = new Map<number, DeviceEntry<D>>();
  private readonly host = new Map<number, H>(); // LRU order, oldest first
  private readonly hostLoading = new Map<number, Promise<H>>();
  private waiters: (() => void)[] = [];
  readonly counters: CacheCounters = {
    hits: 0,
    misses: 0,
    loads: 0,
    prefetchLoads: 0,
    bytesToDevice: 0,
    evictions: 0,
    diskReads: 0,
    bytesFromDisk: 0,
    hostHits: 0,
    hostEvictions: 0,
  };

  constructor(private readonly opts: TieredCacheOptions<H, D>) {
    this.deviceSlots = Math.floor(opts.deviceBudgetBytes / opts.expertBytes);
    this.hostSlots = Math.floor(opts.hostBudgetBytes / opts.expertBytes);
    if (this.deviceSlots < 1) {
      throw new RangeError(`device budget ${opts.deviceBudgetBytes} bytes holds no expert of ${opts.expertBytes} bytes`);
    }
  }

  get policyName(): string {
    return this.opts.policy.name;
  }

  /** Experts ready on the device (not counting loads under way). */
  deviceResident(): number[] {
    return [...this.device.entries()].filter(([, e]) => e.value !== undefined).map(([k]) => k);
  }

  hostResident(): number[] {
    return [...this.host.keys()];
  }

  /** Bytes the device tier holds or has reserved for loads under way. */
  deviceBytes(): number {
    return this.device.size * this.opts.expertBytes;
  }

  /** Whether the expert is ready on the device now (as deviceResident().includes(key), without the list). */
  isDeviceResident(key: number): boolean {
    return this.device.get(key)?.value !== undefined;
  }

  /**
   * A hit, synchronously: the expert pinned until `release` when it is ready on the device now (counted
   * and touched as acquire's hit), else undefined and nothing counted (the caller acquires it instead).
   */
  acquireResident(key: number): Acquired<D> | undefined {
    const entry = this.device.get(key);
    if (entry?.value === undefined) return undefined;
    this.counters.hits++;
    entry.pins++;
    this.opts.policy.touch(key);
    return { value: entry.value, hit: true, release: () => this.unpin(key) };
  }

  /** Gets an expert for compute, loading it if needed; it stays resident until `release`. */
  async acquire(key: number): Promise<Acquired<D>> {
    const hit = this.acquireResident(key);
    if (hit !== undefined) return hit;
    this.counters.misses++;
    const value = await this.load(key, false, true);
    return { value, hit: false, release: () => this.unpin(key) };
  }

  /** Loads an expert ahead of need; resolves when it is resident (or was already). */
  async prefetch(key: number): Promise<void> {
    if (this.device.has(key)) {
      await this.device.get(key)?.loading;
      return;
    }
    await this.load(key, true, false);
  }

  private async load(key: number, prefetch: boolean, pin: boolean): Promise<D> {
    let entry = this.device.get(key);
    if (entry?.loading) {
      if (pin) entry.pins++;
      try {
        return await entry.loading;
      } catch (e) {
        if (pin) this.unpin(key);
        throw e;
      }
    }
    await this.reserveSlot();
    entry = this.device.get(key);
    if (entry) {
      // Another caller loaded it while this one waited for a slot.
      this.releaseSlotReservation();
      if (pin) entry.pins++;
      return entry.value ?? (await entry.loading!);
    }
    const fresh: DeviceEntry<D> = { pins: pin ? 1 : 0 };
    fresh.loading = (async () => {
      const host = await this.hostValue(key);
      const value = await this.opts.loader.toDevice(key, host, { prefetch });
      this.counters.loads++;
      if (prefetch) this.counters.prefetchLoads++;
      this.counters.bytesToDevice += this.opts.expertBytes;
      return value;
    })();
    this.device.set(key, fresh);
    this.releaseSlotReservation();
    try {
      fresh.value = await fresh.loading;
    } catch (e) {
      this.device.delete(key);
      this.wake();
      throw e;
    } finally {
      fresh.loading = undefined;
    }
    this.opts.policy.insert(key);
    // The expert is now evictable (unless pinned): a caller waiting for a slot while every slot held a
    // load under way (prefetches fill a small tier) must look again, or it would wait for an unrelated unpin.
    this.wake();
    return fresh.value;
  }

  private reserved = 0;

  /** Waits until a slot is free (evicting if needed), then reserves it until the entry is inserted. */
  private async reserveSlot(): Promise<void> {
    for (;;) {
      if (this.device.size + this.reserved < this.deviceSlots) {
        this.reserved++;
        return;
      }
      const victim = this.opts.policy.victim((k) => {
        const e = this.device.get(k);
        return e !== undefined && e.value !== undefined && e.pins === 0;
      });
      if (victim !== undefined) {
        this.evict(victim);
        continue;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private releaseSlotReservation(): void {
    this.reserved--;
    this.wake();
  }

  private evict(key: number): void {
    const e = this.device.get(key);
    this.device.delete(key);
    this.opts.policy.remove(key);
    this.counters.evictions++;
    if (e?.value !== undefined) this.opts.loader.dropDevice?.(key, e.value);
  }

  private unpin(key: number): void {
    const e = this.device.get(key);
    if (e && e.pins > 0) e.pins--;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  private async hostValue(key: number): Promise<H> {
    const cached = this.host.get(key);
    if (cached !== undefined) {
      this.counters.hostHits++;
      this.host.delete(key);
      this.host.set(key, cached);
      return cached;
    }
    let loading = this.hostLoading.get(key);
    if (!loading) {
      loading = this.opts.loader.loadHost(key).then((v) => {
        this.counters.diskReads++;
        this.counters.bytesFromDisk += this.opts.expertBytes;
        return v;
      });
      this.hostLoading.set(key, loading);
      loading.finally(() => this.hostLoading.delete(key)).catch(() => {});
    }
    const value = await loading;
    if (this.hostSlots > 0 && !this.host.has(key)) {
      while (this.host.size >= this.hostSlots) {
        const oldest = this.host.keys().next().value as number;
        this.host.delete(oldest);
        this.counters.hostEvictions++;
      }
      this.host.set(key, value);
    }
    return value;
  }
}
