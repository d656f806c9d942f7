// Static placement: which shards own which experts. Expert g = layer * E + expert goes to shards
// (g + r) mod S for r = 0..R-1 (R replicas), so each layer's experts spread evenly over the shards and every
// process that knows (L, E, S, R) computes the same placement.

export interface PlacementSpec {
  numLayers: number;
  numExperts: number;
  shards: number;
  replicas: number;
}

export class Placement {
  readonly spec: Readonly<PlacementSpec>;

  constructor(spec: PlacementSpec) {
    const { numLayers, numExperts, shards, replicas } = spec;
    for (const [k, v] of Object.entries(spec)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`placement: ${k} must be a positive integer, got ${v}`);
    }
    if (replicas > shards) throw new RangeError(`placement: replicas ${replicas} exceeds shards ${shards}`);
    this.spec = Object.freeze({ numLayers, numExperts, shards, replicas });
  }

  /** Shards that own expert (layer, expert), primary first. */
  owners(layer: number, expert: number): number[] {
    const { numExperts: E, shards: S, replicas: R } = this.spec;
    const g = layer * E + expert;
    return Array.from({ length: R }, (_, r) => (g + r) % S);
  }

  /** Experts owned by `shard`, as [layer, expert] pairs in layer-major order. */
  ownedBy(shard: number): [number, number][] {
    const { numLayers: L, numExperts: E } = this.spec;
    const out: [number, number][] = [];
    for (let l = 0; l < L; l++) for (let e = 0; e < E; e++) if (this.owners(l, e).includes(shard)) out.push([l, e]);
    return out;
  }

  owns(shard: number, layer: number, expert: number): boolean {
    return this.owners(layer, expert).includes(shard);
  }
}
