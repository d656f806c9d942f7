// The key/value cache of one sequence: per layer, keys and values [K, length, Dh] in a buffer that grows
// by doubling. Sequences own their caches, so a batch can be formed from any set of sequences at any step.

export class KvCache {
  private keys: Float32Array[];
  private values: Float32Array[];
  private capacity: number;
  length = 0;

  constructor(readonly layers: number, readonly kvHeads: number, readonly headDim: number, initialCapacity = 64) {
    this.capacity = initialCapacity;
    const size = kvHeads * initialCapacity * headDim;
    this.keys = Array.from({ length: layers }, () => new Float32Array(size));
    this.values = Array.from({ length: layers }, () => new Float32Array(size));
  }

  /**
   * Copies this cache's layer `layer` into a batch buffer [B, K, P, Dh] at batch row `b`, right-aligned
   * (left padding), so that position P-1 holds the newest entry.
   */
  copyInto(layer: number, kOut: Float32Array, vOut: Float32Array, b: number, P: number): void {
    const { kvHeads: K, headDim: Dh, length: n } = this;
    for (let h = 0; h < K; h++) {
      const src = h * this.capacity * Dh;
      const dst = ((b * K + h) * P + (P - n)) * Dh;
      kOut.set(this.keys[layer].subarray(src, src + n * Dh), dst);
      vOut.set(this.values[layer].subarray(src, src + n * Dh), dst);
    }
  }

  /**
   * Appends the last `count` of the S new entries of batch row `b` from kNew/vNew [B, K, S, Dh] to layer
   * `layer`. Call `commit(count)` once every layer has been appended.
   */
  append(layer: number, kNew: Float32Array, vNew: Float32Array, b: number, S: number, count: number): void {
    const { kvHeads: K, headDim: Dh } = this;
    this.ensure(this.length + count);
    for (let h = 0; h < K; h++) {
      const src = ((b * K + h) * S + (S - count)) * Dh;
      const dst = (h * this.capacity + this.length) * Dh;
      this.keys[layer].set(kNew.subarray(src, src + count * Dh), dst);
      this.values[layer].set(vNew.subarray(src, src + count * Dh), dst);
    }
  }

  commit(count: number): void {
    this.length += count;
  }

  private ensure(needed: number): void {
    if (needed <= this.capacity) return;
    let cap = this.capacity;
    while (cap < needed) cap *= 2;
    const { kvHeads: K, headDim: Dh } = this;
    const grow = (old: Float32Array) => {
      const out = new Float32Array(K * cap * Dh);
      for (let h = 0; h < K; h++) out.set(old.subarray(h * this.capacity * Dh, (h * this.capacity + this.length) * Dh), h * cap * Dh);
      return out;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.capacity = cap;
  }
}
