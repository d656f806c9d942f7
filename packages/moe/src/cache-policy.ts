// Eviction policies for the device tier. A policy sees accesses and insertions and picks a victim among the
// evictable resident experts. LRU is here; the predictive (ExpertFlow) and Belady policies share the interface.

export interface EvictionPolicy {
  readonly name: string;
  /** An expert was used by compute (a hit, or a miss that has just been loaded). */
  touch(key: number): void;
  /** An expert became resident. */
  insert(key: number): void;
  /** An expert left the tier. */
  remove(key: number): void;
  /** Chooses a resident expert to evict among those for which `evictable` holds, or undefined. */
  victim(evictable: (key: number) => boolean): number | undefined;
}

/** Least recently used: evicts the expert whose last use (or insertion) is oldest. */
export class LruPolicy implements EvictionPolicy {
  readonly name = "lru";
  private order = new Map<number, true>(); // oldest first

  touch(key: number): void {
    if (this.order.delete(key)) this.order.set(key, true);
  }
  insert(key: number): void {
    this.order.delete(key);
    this.order.set(key, true);
  }
  remove(key: number): void {
    this.order.delete(key);
  }
  victim(evictable: (key: number) => boolean): number | undefined {
    for (const key of this.order.keys()) if (evictable(key)) return key;
    return undefined;
  }
}
