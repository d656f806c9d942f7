// The predictive device-tier policy of ExpertFlow (policy name `expertflow`), driven by the batch's
// predicted demand for the current decode step (the probability that some token of the batch needs
// expert e at layer l; batchDemand in cache-access.ts).
//
//   - Slots shared in proportion to demand: in window l (before layer l runs), the slots not pinned by
//     layer l-1 go first to layer l's predicted experts, and the rest are shared among layers l+1..L-1 in
//     proportion to their predicted demand D_j = Σ_e p[j, e] (largest remainders), not evenly. A layer's
//     slots are released as soon as it has run, so later layers' loads overlap compute.
//   - Prefetch: the predicted experts within those shares, most urgent first (smallest expected distance
//     to use); the simulator (or shard) takes as many as the link allows.
//   - Correction: an expert needed but not predicted is loaded at once (on demand, by the cache); an
//     expert loaded ahead on the prediction that its layer's gate did not choose is demoted: evicted
//     before any other.
//   - Eviction (a learned Belady): the expert whose expected next use is furthest, in layer-steps:
//       dist = d + L (1 - u) / u
//     with d the layer-steps until its layer comes next and u the probability that it is used then, as
//     learned online from the expert's age and predicted demand (cache-use-estimate.ts): a calibrated
//     mix of recency (consecutive tokens reuse experts) and prediction. Ties go to the least recently
//     used. With `eviction: "lru"` it evicts by LRU instead (the baseline "LRU + the same prefetches").
//
// Letters (glossary: docs/ARCHITECTURE.md): L MoE layers, E experts per layer, C slots, p predicted demand [L,
// E], u use probability, θ prediction threshold, D_j predicted distinct experts of layer j.

import type { CachePolicy } from "./cache-sim.js";
import { UseEstimator } from "./cache-use-estimate.js";

export interface ExpertflowOptions {
  numLayers: number; // L
  numExperts: number; // E
  capacity: number; // C
  /** θ: an expert is a prefetch candidate when p[l, e] >= θ (default 0.03); admission decides the rest. */
  threshold?: number;
  /** "predicted" (default): furthest expected next use; "lru": least recently used. */
  eviction?: "predicted" | "lru";
}

/** Splits `total` slots in proportion to `demand` (largest remainders); all-zero demand gets nothing. */
export function shareSlots(total: number, demand: readonly number[]): number[] {
  if (!Number.isInteger(total) || total < 0) throw new RangeError(`shareSlots: total must be a non-negative integer, got ${total}`);
  if (demand.some((d) => !(d >= 0) || !Number.isFinite(d)))
    throw new RangeError(`shareSlots: demand must be finite and >= 0, got [${demand.join(", ")}]`);
  const sum = demand.reduce((a, d) => a + d, 0);
  if (sum === 0 || total === 0) return demand.map(() => 0);
  const exact = demand.map((d) => (total * d) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, n) => a + n, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i]++;
  }
  return out;
}

export class ExpertflowPolicy implements CachePolicy {
  name: string;
  protected readonly L: number;
  protected readonly E: number;
  protected readonly C: number;
  protected readonly theta: number;
  protected readonly estimate: UseEstimator;
  protected readonly byLru: boolean;
  protected demand: Float32Array; // [L, E] of the current step
  protected next: Float32Array | undefined; // [L, E] predicted for the step after (the time policy reads it; v1 does not)
  protected step = -1;
  protected layerNow = 0; // the layer whose window or access is current (L once the step has run)
  protected accessing = false; // layer layerNow's gate has decided: its unneeded experts wait for the next step
  protected pinnedBefore = 0; // experts layer l-1 used (pinned during window l)
  protected readonly usedStep: Int32Array; // [L*E]: last step in which the expert was used
  protected readonly demoted: Uint8Array; // [L*E]
  protected readonly speculative: Uint8Array; // [L*E]: loaded ahead, not used since
  protected readonly lastUse: Float64Array; // [L*E]: recency tick
  protected readonly resident = new Set<number>();
  protected tick = 0;

  constructor(opts: ExpertflowOptions) {
    const { numLayers: L, numExperts: E, capacity: C } = opts;
    for (const [name, v] of [
      ["numLayers", L],
      ["numExperts", E],
      ["capacity", C],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`ExpertflowPolicy: ${name} must be a positive integer, got ${v}`);
    }
    this.L = L;
    this.E = E;
    this.C = C;
    this.theta = opts.threshold ?? 0.03;
    if (!(this.theta > 0 && this.theta <= 1)) throw new RangeError(`ExpertflowPolicy: threshold must be in (0, 1], got ${this.theta}`);
    this.estimate = new UseEstimator(L, E);
    this.byLru = opts.eviction === "lru";
    this.name = this.byLru ? "lru+prefetch-v1" : "expertflow-v1";
    this.demand = new Float32Array(L * E);
    this.usedStep = new Int32Array(L * E).fill(-1);
    this.demoted = new Uint8Array(L * E);
    this.speculative = new Uint8Array(L * E);
    this.lastUse = new Float64Array(L * E);
  }

  beginStep(step: number, demand: Float32Array | undefined, next?: Float32Array): void {
    this.next = undefined;
    for (const [name, a] of [
      ["demand", demand],
      ["next-step demand", next],
    ] as const) {
      if (a !== undefined && a.length !== this.L * this.E)
        throw new RangeError(`ExpertflowPolicy: ${name} has ${a.length} values, expected L*E = ${this.L * this.E}`);
    }
    this.step = step;
    this.demand = demand ?? new Float32Array(this.L * this.E);
    this.layerNow = 0;
    this.pinnedBefore = 0;
  }

  beginLayer(layer: number): void {
    this.layerNow = layer;
    this.accessing = false;
    // Layer `layer` is coming up: this step's prediction replaces the demotion of the last time it ran.
    for (let e = 0; e < this.E; e++) this.demoted[layer * this.E + e] = 0;
  }

  /** Slots for the predicted experts of layers l..L-1 in window l: [L - l] (see the file comment). */
  shares(layer: number): number[] {
    const { L, E } = this;
    const free = Math.max(0, this.C - this.pinnedBefore);
    const predicted = (j: number) => {
      let n = 0;
      for (let e = 0; e < E; e++) if (this.demand[j * E + e] >= this.theta) n++;
      return n;
    };
    const first = Math.min(free, predicted(layer));
    const later: number[] = [];
    for (let j = layer + 1; j < L; j++) {
      let d = 0;
      for (let e = 0; e < E; e++) d += this.demand[j * E + e];
      later.push(d);
    }
    const rest = shareSlots(free - first, later).map((n, i) => Math.min(n, predicted(layer + 1 + i)));
    return [first, ...rest];
  }

  *prefetch(layer: number, isResident: (key: number) => boolean): Iterable<number> {
    const { E } = this;
    const shares = this.shares(layer);
    const wanted: number[] = [];
    for (const [i, n] of shares.entries()) {
      const j = layer + i;
      const top = Array.from({ length: E }, (_, e) => j * E + e)
        .filter((k) => this.demand[k] >= this.theta)
        .sort((a, b) => this.demand[b] - this.demand[a] || a - b)
        .slice(0, n);
      wanted.push(...top);
    }
    wanted.sort((a, b) => this.distance(a) - this.distance(b) || a - b);
    for (const k of wanted) if (!isResident(k)) yield k;
  }

  admit(incoming: number, victim: number | undefined): boolean {
    if (victim === undefined || this.byLru || this.demoted[victim]) return true;
    return this.distance(incoming) < this.distance(victim);
  }

  /** Correction as soon as the gate has decided: experts loaded ahead on the prediction that the layer does not need are demoted. */
  beginAccess(layer: number, need: Int32Array): void {
    const { E } = this;
    this.layerNow = layer;
    this.accessing = true;
    for (const k of need) this.usedStep[k] = this.step;
    for (let e = 0; e < E; e++) {
      const k = layer * E + e;
      if (this.speculative[k] && this.usedStep[k] !== this.step) this.demoted[k] = 1;
    }
  }

  layerRan(layer: number, used: Int32Array): void {
    for (const k of used) this.usedStep[k] = this.step;
    this.estimate.observe(layer, this.step, this.demandOfLayer(layer), (k) => this.usedStep[k] === this.step, this.next);
    this.layerNow = layer + 1;
    this.accessing = false;
    this.pinnedBefore = used.length;
  }

  /** [L, E] holding at least layer `layer`'s predicted demand in the current step (what the estimator learns from). */
  protected demandOfLayer(_layer: number): Float32Array {
    return this.demand;
  }

  /** Predicted demand of an expert in the current step. */
  protected demandOf(key: number): number {
    return this.demand[key];
  }

  /** Expected layer-steps until the expert is next used (see the file comment). */
  distance(key: number): number {
    const { L, E } = this;
    const l = Math.floor(key / E);
    const ahead = l > this.layerNow || (l === this.layerNow && !this.accessing);
    const d = ahead ? l - this.layerNow : l + L - this.layerNow;
    const p = this.demandOf(key);
    const u = ahead ? this.estimate.beforeRun(key, this.step, p) : this.estimate.afterRun(key, this.step, p);
    return d + (L * (1 - u)) / Math.max(u, 1e-6);
  }

  touch(key: number): void {
    this.lastUse[key] = ++this.tick;
    this.speculative[key] = 0;
  }
  /** A load for the layer being accessed that needs it is on demand; any other is speculative until used. */
  insert(key: number): void {
    this.resident.add(key);
    this.lastUse[key] = ++this.tick;
    const onDemand = this.accessing && Math.floor(key / this.E) === this.layerNow && this.usedStep[key] === this.step;
    this.speculative[key] = onDemand ? 0 : 1;
  }
  remove(key: number): void {
    this.resident.delete(key);
    this.demoted[key] = 0;
    this.speculative[key] = 0;
  }

  victim(evictable: (key: number) => boolean): number | undefined {
    let best: number | undefined;
    let bestDemoted = false;
    let bestDist = -Infinity;
    for (const k of this.resident) {
      if (!evictable(k)) continue;
      const dem = !this.byLru && this.demoted[k] === 1;
      const dist = this.byLru ? -this.lastUse[k] : this.distance(k);
      const better =
        best === undefined ||
        (dem && !bestDemoted) ||
        (dem === bestDemoted && (dist > bestDist || (dist === bestDist && this.lastUse[k] < this.lastUse[best])));
      if (better) {
        best = k;
        bestDemoted = dem;
        bestDist = dist;
      }
    }
    return best;
  }
}
