// The time-minimising ExpertFlow policy (policy name `expertflow`). It keeps the predictive eviction of
// cache-predictive.ts (furthest expected next use, dist = d + L (1 - u) / u, u learned online from the
// expert's age and predicted demand) and replaces its prefetching: a load ahead of need is made only
// where it pays in time.
//
//   benefit  = u_k · saved_k        u_k: probability that expert k is used when its layer runs next;
//                                   saved_k: stall time it avoids, x minus what of the transfer would still
//                                   be under way when k is needed: max(0, backlog + x - d_k · τ̂), τ̂ the
//                                   measured time of a layer-step (stalls included), d_k layers ahead.
//   cost     = (1 - u_k) · x · ρ  +  u_v · x
//                                   link time now: a prefetch that is not used costs its transfer (x,
//                                   weighted by ρ, the share of time the link is busy: link time is only
//                                   lost where something else wanted it; a used one would have moved on
//                                   demand anyway); and the expected use of what it evicts: the expert v
//                                   leaves now, before the gate has decided, and comes back with
//                                   probability u_v (of v's next run; 0 for a free slot) at the cost of a load.
//   prefetch k iff benefit > cost and k's expected next use comes before v's.
//
// Next-step prediction: where the caller has a predicted demand of the step that follows (from this step's
// tokens: the previous token's routes are predictive of the next token's), q below, the use probability
// of an expert in the next step, is learned against it instead of the current step's demand.
//
// Correction one layer ahead: in window l the caller may hand over a sharper prediction of layer l (the
// pre-gate: layer l's gate applied to layer l-1's hidden state; `correct`). It is combined with the
// all-layer predictor as independent evidence, in odds: odds(p') = odds(p) · odds(r_l) / odds(π_l), where
// r_l = α_l for the experts it names and γ_l for the others (the shares of named and of unnamed experts
// that layer l then used, learned online) and π_l the use rate of all of them: it raises what it names and
// lowers what it does not (the earlier rule only raised, 1 - (1 - p)(1 - α_l): measured on the bundled
// model at 25 %, B = 4, time/LRU 0.754 -> 0.747). Layers further ahead keep the all-layer predictor's p.
// With a load of 14 layer-steps (bench cache's default link) the correction comes too late to pay much:
// no pre-gate at all measured 0.744 there; it is for links that move an expert within a layer-step or two.
//
// Letters (glossary: docs/ARCHITECTURE.md): L MoE layers, E experts per layer, C slots, x transfer time of one
// expert, τ̂ measured time of a layer-step, ρ link utilisation, p predicted demand, u use probability, α
// pre-gate precision, γ use rate of what the pre-gate does not name, π use rate of a layer's experts.
import { ExpertflowPolicy, type ExpertflowOptions } from "./cache-predictive.js";
import type { LinkView } from "./cache-sim-time.js";

export class ExpertflowTimePolicy extends ExpertflowPolicy {
  private readonly pregate: Float32Array; // [L*E]: 1 where the correction named the expert this step
  private readonly pregateStep: Int32Array; // [L]: step of the correction of layer l, or -1
  private readonly alphaHits: Float64Array; // [L]
  private readonly alphaCount: Float64Array; // [L]
  private readonly gammaHits: Float64Array; // [L]: of the experts the correction did not name, those used
  private readonly gammaCount: Float64Array; // [L]
  private readonly effective: Float32Array; // [L*E] scratch: p' of one layer
  private link: LinkView | undefined;

  constructor(opts: ExpertflowOptions) {
    super(opts);
    this.name = opts.eviction === "lru" ? "lru+prefetch" : "expertflow";
    const { L, E } = this;
    this.pregate = new Float32Array(L * E);
    this.pregateStep = new Int32Array(L).fill(-1);
    this.alphaHits = new Float64Array(L).fill(1); // prior: 1 of 2 named experts used
    this.alphaCount = new Float64Array(L).fill(2);
    this.gammaHits = new Float64Array(L).fill(0.1); // prior: rarely used
    this.gammaCount = new Float64Array(L).fill(2);
    this.effective = new Float32Array(L * E);
  }

  override beginStep(step: number, demand: Float32Array | undefined, next?: Float32Array): void {
    super.beginStep(step, demand, next);
    this.next = next;
  }

  /** The demand feature of the next step's use: the next-step prediction where known, else this step's. */
  private nextDemandOf(key: number): number {
    return this.next === undefined ? this.demandOf(key) : this.next[key];
  }

  correct(layer: number, demand: Float32Array): void {
    const { E } = this;
    if (demand.length !== E) throw new RangeError(`ExpertflowTimePolicy.correct: ${demand.length} values, expected E = ${E}`);
    for (let e = 0; e < E; e++) this.pregate[layer * E + e] = demand[e] > 0.5 ? 1 : 0;
    this.pregateStep[layer] = this.step;
  }

  protected override demandOf(key: number): number {
    const l = Math.floor(key / this.E);
    const p = this.demand[key];
    if (this.pregateStep[l] !== this.step) return p;
    // odds(p') = odds(p) · odds(r) / odds(π): r the use rate of named (α) or unnamed (γ) experts, π both together.
    const odds = (x: number) => Math.min(1e6, Math.max(1e-6, x / (1 - x)));
    const r = this.pregate[key] === 1 ? this.alphaHits[l] / this.alphaCount[l] : this.gammaHits[l] / this.gammaCount[l];
    const pi = (this.alphaHits[l] + this.gammaHits[l]) / (this.alphaCount[l] + this.gammaCount[l]);
    const o = odds(Math.min(1 - 1e-6, Math.max(1e-6, p))) * (odds(r) / odds(pi));
    return o / (1 + o);
  }

  protected override demandOfLayer(layer: number): Float32Array {
    const { E } = this;
    for (let e = 0; e < E; e++) this.effective[layer * E + e] = this.demandOf(layer * E + e);
    return this.effective;
  }

  override layerRan(layer: number, used: Int32Array): void {
    if (this.pregateStep[layer] === this.step) {
      const { E } = this;
      const usedSet = new Set(used);
      for (let e = 0; e < E; e++) {
        const k = layer * E + e;
        if (this.pregate[k] === 0) {
          this.gammaCount[layer]++;
          if (usedSet.has(k)) this.gammaHits[layer]++;
          continue;
        }
        this.alphaCount[layer]++;
        if (usedSet.has(k)) this.alphaHits[layer]++;
      }
    }
    super.layerRan(layer, used);
  }

  /**
   * Expected layer-steps until the expert is next used. For a layer still to run in this step: used now
   * with probability u (this step's prediction), else in a later step, each with probability q (what the
   * expert's age and this step's prediction say of the step after): d + (1 - u) L / q. For a layer that
   * has run: d + L (1 - q) / q.
   */
  override distance(key: number): number {
    const { L } = this;
    const d = this.layersAhead(key);
    const p = this.demandOf(key);
    const q = Math.max(this.estimate.afterRun(key, this.step, this.nextDemandOf(key)), 1e-6);
    if (!this.isAhead(key)) return d + (L * (1 - q)) / q;
    const u = this.estimate.beforeRun(key, this.step, p);
    return d + ((1 - u) * L) / q;
  }

  /** Probability that `key` is used when its layer next runs. */
  private useProbability(key: number): number {
    const p = this.demandOf(key);
    return this.isAhead(key) ? this.estimate.beforeRun(key, this.step, p) : this.estimate.afterRun(key, this.step, this.nextDemandOf(key));
  }

  private isAhead(key: number): boolean {
    const l = Math.floor(key / this.E);
    return l > this.layerNow || (l === this.layerNow && !this.accessing);
  }

  /** d: layer-steps until the expert's layer runs next (0 for the layer being accessed). */
  private layersAhead(key: number): number {
    const { L, E } = this;
    const l = Math.floor(key / E);
    return this.isAhead(key) ? l - this.layerNow : l + L - this.layerNow;
  }

  /**
   * Stall time a load of `key` started now saves: the link time it takes from compute rather than from a
   * wait. Before k's layer is accessed, d + 1 layer-steps compute (the one under way, then the d between);
   * whatever of that is not already taken by the link's backlog is overlap, at most x.
   */
  private saved(key: number): number {
    const link = this.link;
    if (link === undefined) return 1;
    const overlap = (this.layersAhead(key) + 1) * link.layerMs - link.backlogMs;
    return Math.min(link.transferMs, Math.max(0, overlap));
  }

  private utilisation(): number {
    const link = this.link;
    if (link === undefined || !(link.nowMs > 0)) return 1;
    return Math.min(1, Math.max(0, link.busyMs / link.nowMs));
  }

  /** benefit - cost of loading `key` ahead, evicting an expert of use probability uVictim (0: a free slot). */
  private net(key: number, uVictim: number): number {
    const x = this.link?.transferMs ?? 1;
    const u = this.useProbability(key);
    return u * this.saved(key) - (1 - u) * x * this.utilisation() - uVictim * x;
  }

  observeLink(link: LinkView): void {
    this.link = link;
  }

  override *prefetch(layer: number, isResident: (key: number) => boolean, link?: LinkView): Iterable<number> {
    const { L, E } = this;
    if (link !== undefined) this.link = link;
    const candidates: { key: number; net: number }[] = [];
    for (let j = layer; j < L; j++) {
      for (let e = 0; e < E; e++) {
        const k = j * E + e;
        if (isResident(k) || this.demandOf(k) < this.theta) continue;
        const net = this.net(k, 0);
        if (net > 0) candidates.push({ key: k, net });
      }
    }
    candidates.sort((a, b) => b.net - a.net || a.key - b.key);
    for (const c of candidates) if (!isResident(c.key)) yield c.key;
  }

  override admit(incoming: number, victim: number | undefined): boolean {
    if (victim === undefined || this.byLru) return this.net(incoming, 0) > 0;
    if (!this.demoted[victim] && this.distance(incoming) >= this.distance(victim)) return false;
    const uVictim = this.demoted[victim] ? 0 : this.useProbability(victim);
    return this.net(incoming, uVictim) > 0;
  }
}
