// Feeds the predictive device-tier policy (`--policy expertflow`, packages/moe cache-predictive.ts) what a
// shard sees: prefetch hints from NATS (expertmesh.v1.hints.<layer>: predicted demand of one layer) and
// RunExperts calls (a layer's gate decision). A call for a layer at or below the last one seen starts a new
// decode step. Hints update the predicted demand of their layer; those for an older step than one already
// seen for that layer are stale and ignored, unless they are corrections. Which hinted experts are worth
// loading is the policy's call: an expert is offered for prefetch only while a slot is free or the
// policy would rather hold it than the expert it would evict.
//
// Letters (glossary: docs/ARCHITECTURE.md): L MoE layers, E experts per layer, p predicted demand [L, E].
import type { PrefetchHint } from "@expertmesh/proto";
import type { CachePolicy, LinkView } from "@expertmesh/moe";

export interface HintedLoad {
  readonly key: number;
  /** The gate chose it and the prediction missed it: load now, ahead of predictions. */
  readonly high: boolean;
}

export class ExpertflowFeed {
  readonly #policy: CachePolicy;
  readonly #L: number;
  readonly #E: number;
  readonly #demand: Float32Array; // [L, E], live: the policy reads it
  readonly #hintStep: Float64Array; // [L]: newest hint step per layer
  #step = 0;
  #lastLayer = -1;

  constructor(policy: CachePolicy, numLayers: number, numExperts: number) {
    this.#policy = policy;
    this.#L = numLayers;
    this.#E = numExperts;
    this.#demand = new Float32Array(numLayers * numExperts);
    this.#hintStep = new Float64Array(numLayers).fill(-1);
    policy.beginStep?.(0, this.#demand);
  }

  /** The predicted demand now ([L, E], a copy). */
  demand(): Float32Array {
    return this.#demand.slice();
  }

  /**
   * Applies a hint and returns the loads to offer, most likely first: owned experts (`owns`) not yet
   * resident (`resident`) with predicted demand at least the threshold the policy uses. Malformed hints
   * (layer or expert out of range, scores not matching) are ignored: hints are best effort.
   */
  hint(h: PrefetchHint, owns: (key: number) => boolean, resident: (key: number) => boolean): HintedLoad[] {
    const { layer } = h;
    if (layer >= this.#L || h.expertIds.some((e) => e >= this.#E)) return [];
    if (h.scores.length !== 0 && h.scores.length !== h.expertIds.length) return [];
    const step = Number(h.step);
    if (!h.correction) {
      if (step < this.#hintStep[layer]) return [];
      this.#hintStep[layer] = step;
      this.#demand.fill(0, layer * this.#E, (layer + 1) * this.#E);
    }
    const loads: HintedLoad[] = [];
    h.expertIds.forEach((e, i) => {
      const key = layer * this.#E + e;
      const score = h.correction ? 1 : (h.scores[i] ?? 1);
      this.#demand[key] = Math.max(this.#demand[key], Math.min(1, Math.max(0, score)));
      if (owns(key) && !resident(key)) loads.push({ key, high: h.correction });
    });
    return loads;
  }

  /**
   * Whether loading `key` ahead is worth it now, given the resident experts, the free slots and (with a
   * simulated link) what the link is doing: the policy's own admission, as in the simulator.
   */
  worthLoading(key: number, residentKeys: readonly number[], freeSlots: number, link?: LinkView): boolean {
    if (link !== undefined) this.#policy.observeLink?.(link);
    if (freeSlots > 0) return this.#policy.admit?.(key, undefined) ?? true;
    const set = new Set(residentKeys);
    const victim = this.#policy.victim((k) => set.has(k));
    return victim !== undefined && (this.#policy.admit?.(key, victim) ?? true);
  }

  /** A RunExperts call for `layer` needing `keys` begins (the gate has decided). */
  beginCall(layer: number, keys: Int32Array): void {
    if (layer <= this.#lastLayer) {
      this.#step++;
      this.#policy.beginStep?.(this.#step, this.#demand);
    }
    this.#lastLayer = layer;
    this.#policy.beginLayer?.(layer);
    this.#policy.beginAccess?.(layer, keys);
  }

  /** The call for `layer` has computed. */
  endCall(layer: number, keys: Int32Array): void {
    this.#policy.layerRan?.(layer, keys);
  }
}
