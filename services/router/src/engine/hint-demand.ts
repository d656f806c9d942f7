// Whether any shard uses prefetch hints: from each shard's latest heartbeat (ignores_hints) in the
// current layout. Until every shard of the layout has said it ignores them (lru), hints are wanted:
// shards not heard from yet and shards older than the field are sent hints, as before. While none wants
// them, the router neither asks the predictor for their sake nor publishes hints or corrections (work
// that nothing used: about a tenth of the mesh's CPU in lru and resident meshes).
export class HintDemand {
  #ignores = new Map<number, boolean>();
  #shards: number;
  #wanted = true;

  constructor(shards: number) {
    this.#shards = shards;
  }

  /** True while some shard of the layout may use hints. */
  get wanted(): boolean {
    return this.#wanted;
  }

  /** A heartbeat of shard `shardId` in the current layout. */
  observe(shardId: number, ignoresHints: boolean): void {
    if (shardId < 0 || shardId >= this.#shards) return;
    this.#ignores.set(shardId, ignoresHints);
    this.#update();
  }

  /** A new layout of `shards` shards: nothing is known of them yet. */
  reset(shards: number): void {
    this.#shards = shards;
    this.#ignores.clear();
    this.#update();
  }

  #update(): void {
    this.#wanted = this.#ignores.size < this.#shards || [...this.#ignores.values()].some((ignores) => !ignores);
  }
}
