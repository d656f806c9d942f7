// The key/value cache of one sequence: per layer, keys [K, length, Dh] and values [K, length, Dv] in
// buffers that grow by doubling (Dv = Dh except for multi-head latent attention). Sequences own their caches, so a batch can be formed from any set of sequences at any step.

export class KvCache {
  private keys: Float32Array[];
  private values: Float32Array[];
  private capacity: number;
  length = 0;

  constructor(
    readonly layers: number,
    readonly kvHeads: number,
    readonly headDim: number,
    initialCapacity = 64,
    readonly valueDim = headDim,
  ) {
    this.capacity = initialCapacity;
    this.keys = Array.from({ length: layers }, () => new Float32Array(kvHeads * initialCapacity * headDim));
    this.values = Array.from({ length: layers }, () => new Float32Array(kvHeads * initialCapacity * valueDim));
  }

  /**
   * Copies this cache's layer `layer` into a batch buffer [B, K, P, Dh] at batch row `b`, right-aligned
   * (left padding), so that position P-1 holds the newest entry.
   */
  copyInto(layer: number, kOut: Float32Array, vOut: Float32Array, b: number, P: number): void {
    const { kvHeads: K, headDim: Dh, valueDim: Dv, length: n } = this;
    for (let h = 0; h < K; h++) {
      const dst = (b * K + h) * P + (P - n);
      kOut.set(this.keys[layer].subarray(h * this.capacity * Dh, (h * this.capacity + n) * Dh), dst * Dh);
      vOut.set(this.values[layer].subarray(h * this.capacity * Dv, (h * this.capacity + n) * Dv), dst * Dv);
    }
  }

  /**
   * Appends the last `count` of the S new entries of batch row `b` from kNew [B, K, S, Dh] / vNew [B, K, S, Dv] to layer
   * `layer`. Call `commit(count)` once every layer has been appended.
   */
  append(layer: number, kNew: Float32Array, vNew: Float32Array, b: number, S: number, count: number): void {
    const { kvHeads: K, headDim: Dh, valueDim: Dv } = this;
    this.ensure(this.length + count);
    for (let h = 0; h < K; h++) {
      const src = (b * K + h) * S + (S - count);
      const dst = h * this.capacity + this.length;
      this.keys[layer].set(kNew.subarray(src * Dh, (src + count) * Dh), dst * Dh);
      this.values[layer].set(vNew.subarray(src * Dv, (src + count) * Dv), dst * Dv);
    }
  }

  commit(count: number): void {
    this.length += count;
  }

  private ensure(needed: number): void {
    if (needed <= this.capacity) return;
    let cap = this.capacity;
    while (cap < needed) cap *= 2;
    const K = this.kvHeads;
    const grow = (size: number) => (old: Float32Array) => {
      const out = new Float32Array(K * cap * size);
      for (let h = 0; h < K; h++) out.set(old.subarray(h * this.capacity * size, (h * this.capacity + this.length) * size), h * cap * size);
      return out;
    };
    this.keys = this.keys.map(grow(this.headDim));
    this.values = this.values.map(grow(this.valueDim));
    this.capacity = cap;
  }
}
