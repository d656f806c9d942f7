// Belady's MIN: the offline policy that knows every future access and evicts the resident expert whose
// next use is furthest away (never used again counts as furthest). On demand, it makes the fewest loads
// that any policy can make at a given capacity, prefetching or not: the limit for loads in benchmarks.
//
// Time is counted in layer-steps s = t*L + l of an access stream (cache-access.ts). The simulator calls
// `touch` exactly once per access, in stream order, which moves an expert's "next use" past the current
// layer-step.
//
// Letters (glossary: docs/ARCHITECTURE.md): L MoE layers, E experts per layer, S decode steps (the cache
// simulators' meaning), A accesses.
import type { AccessStream } from "./cache-access.js";
import type { EvictionPolicy } from "./cache-policy.js";

export class BeladyPolicy implements EvictionPolicy {
  readonly name = "belady";
  private readonly start: Int32Array; // [L*E + 1]: uses of key k are uses[start[k] .. start[k+1])
  private readonly uses: Int32Array; // [A]: layer-steps, ascending per key
  private readonly next: Int32Array; // [L*E]: index into uses of the key's next use
  private readonly resident = new Set<number>();

  constructor(stream: AccessStream) {
    const { numLayers: L, numExperts: E, steps: S, offsets, keys } = stream;
    const K = L * E;
    this.start = new Int32Array(K + 1);
    for (const k of keys) this.start[k + 1]++;
    for (let k = 0; k < K; k++) this.start[k + 1] += this.start[k];
    this.uses = new Int32Array(keys.length);
    const fill = this.start.slice(0, K);
    for (let s = 0; s < S * L; s++) for (let i = offsets[s]; i < offsets[s + 1]; i++) this.uses[fill[keys[i]]++] = s;
    this.next = this.start.slice(0, K);
  }

  /** The layer-step of the key's next use, or Infinity. */
  nextUse(key: number): number {
    const i = this.next[key];
    return i < this.start[key + 1] ? this.uses[i] : Infinity;
  }

  touch(key: number): void {
    if (this.next[key] >= this.start[key + 1]) throw new Error(`BeladyPolicy: expert ${key} used more often than the stream says`);
    this.next[key]++;
  }
  insert(key: number): void {
    this.resident.add(key);
  }
  remove(key: number): void {
    this.resident.delete(key);
  }
  victim(evictable: (key: number) => boolean): number | undefined {
    let best: number | undefined;
    let bestUse = -1;
    for (const k of this.resident) {
      if (!evictable(k)) continue;
      const use = this.nextUse(k);
      if (use > bestUse) {
        best = k;
        bestUse = use;
        if (use === Infinity) break;
      }
    }
    return best;
  }
}
