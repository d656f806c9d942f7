// A trace-driven simulator of one device tier of C expert slots over an access stream in decode order
// (cache-access.ts). It keeps two figures apart: loads (host→device transfers, prefetched or on demand,
// and their bytes) and stalls (an expert that a layer's RunExperts needs and that is not resident at that
// moment, so compute waits).
//
// Timing model of one decode step t, for each layer l = 0..L-1:
//   1. window (t, l): while layer l-1's experts compute and layer l's attention runs (for l = 0: the
//      embeddings and layer 0's attention), the policy may load up to P experts ahead (the link budget,
//      loads per layer-step). They are complete before layer l's access. Layer l-1's experts stay pinned.
//   2. access (t, l): the experts resident now are hits and are pinned; each missing one is a stall and
//      is loaded at once, on demand (not counted against P), evicting an unpinned expert. If every
//      resident expert is pinned (C below the layer's demand), an expert of this layer that has already
//      computed is evicted.
//   3. the layer has run: pins are released and the policy is told which experts were used.
// A prefetched expert evicted before any use is a wasted prefetch (those still resident at the end are
// not counted as wasted).
//
// Letters (glossary: docs/ARCHITECTURE.md): S decode steps, P link budget (loads per window) (the cache
// simulator's meanings), L MoE layers, E experts per layer, C slots.
import type { AccessStream } from "./cache-access.js";
import type { EvictionPolicy } from "./cache-policy.js";
import type { LinkView } from "./cache-sim-time.js";

/** Optional hooks through which a policy sees predictions and the progress of a step, and prefetches. */
export interface PrefetchHooks {
  /**
   * Step t begins; `demand` [L, E] is the batch's predicted demand (absent without a predictor);
   * `next` [L, E], where known, the predicted demand of step t + 1 (from the tokens of step t).
   */
  beginStep?(step: number, demand: Float32Array | undefined, next?: Float32Array): void;
  /** Window l of the current step begins (called before `prefetch` and before layer l's access). */
  beginLayer?(layer: number): void;
  /**
   * Keys to load ahead in window l, most urgent first; the simulator takes at most P that are absent.
   * The time-honest simulator (cache-sim-time.ts) and the shard also pass what the link is doing.
   */
  prefetch?(layer: number, isResident: (key: number) => boolean, link?: LinkView): Iterable<number>;
  /** What the shard's link is doing now (the time-honest simulator and a shard with a simulated link tell). */
  observeLink?(link: LinkView): void;
  /** Window l: a sharper prediction of layer l's batch demand ([E], e.g. the pre-gate one layer ahead). */
  correct?(layer: number, demand: Float32Array): void;
  /** Whether loading `incoming` ahead is worth evicting `victim` (undefined: into a free slot); when false the window ends. */
  admit?(incoming: number, victim: number | undefined): boolean;
  /** Layer l's RunExperts arrives needing these experts (keys, ascending): the gate's decision is known. */
  beginAccess?(layer: number, need: Int32Array): void;
  /** Layer l of the current step has run with these experts (keys, ascending). */
  layerRan?(layer: number, used: Int32Array): void;
}

export type CachePolicy = EvictionPolicy & PrefetchHooks;

export interface SimOptions {
  /** C: device slots, each one expert. */
  capacity: number;
  /** Bytes of one expert (bytes moved = loads × expertBytes). */
  expertBytes: number;
  /** P: loads the link completes ahead of need per window; 0 disables prefetching. */
  linkBudget: number;
  /** [S, L, E]: per-step predicted demand handed to `beginStep` (batchDemand in cache-access.ts). */
  demand?: Float32Array;
}

export interface SimResult {
  policy: string;
  capacity: number;
  linkBudget: number;
  accesses: number;
  hits: number;
  /** Accesses that found the expert absent: compute waited. */
  stalls: number;
  /** Host→device transfers, demand + prefetch. */
  loads: number;
  demandLoads: number;
  prefetchLoads: number;
  /** Prefetched experts evicted before any use. */
  wastedPrefetches: number;
  bytes: number;
  hitRatio: number;
}

export function simulateCache(stream: AccessStream, policy: CachePolicy, opts: SimOptions): SimResult {
  const { numLayers: L, numExperts: E, steps: S, offsets, keys } = stream;
  const { capacity: C, linkBudget: P, expertBytes, demand } = opts;
  if (!Number.isInteger(C) || C < 1) throw new RangeError(`simulateCache: capacity must be a positive integer, got ${C}`);
  if (!Number.isInteger(P) || P < 0) throw new RangeError(`simulateCache: link budget must be a non-negative integer, got ${P}`);
  if (!(expertBytes >= 0)) throw new RangeError(`simulateCache: expertBytes must be >= 0, got ${expertBytes}`);
  const LE = L * E;
  if (demand !== undefined && demand.length !== S * LE)
    throw new RangeError(`simulateCache: demand has ${demand.length} values, expected S*L*E = ${S}*${L}*${E}`);

  const resident = new Uint8Array(LE);
  const pinned = new Uint8Array(LE);
  const fresh = new Uint8Array(LE); // prefetched, not yet used
  const hitNow = new Uint8Array(LE);
  let count = 0;
  const r = { accesses: 0, hits: 0, stalls: 0, demandLoads: 0, prefetchLoads: 0, wastedPrefetches: 0 };
  const isResident = (k: number) => resident[k] === 1;
  const unpinnedResident = (k: number) => resident[k] === 1 && pinned[k] === 0;

  const evict = (v: number | undefined, why: string): void => {
    if (v === undefined || resident[v] !== 1)
      throw new Error(`simulateCache: policy ${policy.name} gave no resident victim (${why}), got ${v}`);
    resident[v] = 0;
    count--;
    if (fresh[v]) {
      fresh[v] = 0;
      r.wastedPrefetches++;
    }
    policy.remove(v);
  };
  const load = (k: number): void => {
    resident[k] = 1;
    count++;
    policy.insert(k);
  };

  for (let t = 0; t < S; t++) {
    policy.beginStep?.(t, demand?.subarray(t * LE, (t + 1) * LE));
    for (let l = 0; l < L; l++) {
      const s = t * L + l;
      policy.beginLayer?.(l);
      // 1. Window: prefetch while layer l-1 computes (its experts pinned).
      if (P > 0 && policy.prefetch) {
        const prev = l > 0 ? keys.subarray(offsets[s - 1], offsets[s]) : keys.subarray(0, 0);
        for (const k of prev) pinned[k] = 1;
        const loadedNow: number[] = [];
        for (const k of policy.prefetch(l, isResident)) {
          if (loadedNow.length >= P) break;
          if (!Number.isInteger(k) || k < 0 || k >= LE)
            throw new RangeError(`simulateCache: policy ${policy.name} prefetched key ${k}, outside 0..${LE - 1}`);
          if (resident[k]) continue;
          if (count >= C) {
            const v = policy.victim(unpinnedResident);
            if (v === undefined) break;
            if (policy.admit && !policy.admit(k, v)) break;
            evict(v, "prefetch");
          }
          load(k);
          fresh[k] = 1;
          pinned[k] = 1; // in flight during this window
          loadedNow.push(k);
          r.prefetchLoads++;
        }
        for (const k of prev) pinned[k] = 0;
        for (const k of loadedNow) pinned[k] = 0;
      }
      // 2. Access: hits first (pinned), then each stall loaded on demand.
      const need = keys.subarray(offsets[s], offsets[s + 1]);
      r.accesses += need.length;
      policy.beginAccess?.(l, need);
      for (const k of need) {
        if (resident[k]) {
          hitNow[k] = 1;
          pinned[k] = 1;
          fresh[k] = 0;
          r.hits++;
          policy.touch(k);
        }
      }
      for (const k of need) {
        if (hitNow[k]) continue;
        r.stalls++;
        if (count >= C) {
          let v = policy.victim(unpinnedResident);
          if (v === undefined) v = policy.victim((x) => resident[x] === 1 && x !== k); // all pinned: one has computed
          evict(v, "demand");
        }
        load(k);
        policy.touch(k);
        pinned[k] = 1;
        r.demandLoads++;
      }
      // 3. The layer has run.
      for (const k of need) {
        hitNow[k] = 0;
        pinned[k] = 0;
      }
      policy.layerRan?.(l, need);
    }
  }
  const loads = r.demandLoads + r.prefetchLoads;
  return {
    policy: policy.name,
    capacity: C,
    linkBudget: P,
    ...r,
    loads,
    bytes: loads * expertBytes,
    hitRatio: r.accesses === 0 ? NaN : r.hits / r.accesses,
  };
}
