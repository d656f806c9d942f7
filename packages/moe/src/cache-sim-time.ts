// A time-honest simulator of device-tier caches over an access stream in decode order (cache-access.ts):
// what a policy costs in time and bytes, not only in hits. Each shard has C slots and one host→device link
// of bandwidth G; an expert moves X bytes (the config's dtype, or its compressed size), so one load holds
// the link for x = X / G. Layer-steps s = t*L + l run one after another; each takes τ of compute once all
// its experts are on the device.
//
//   window s   at w_s = start of layer-step s-1 (its experts are pinned while they compute), each shard's
//              policy may queue prefetches for later layers. A prefetch reserves its slot at once
//              (evicting a victim that the policy admits) and waits for the link behind what is queued.
//   access s   at a_s = end of s-1, the gate has decided: needed experts that are resident are hits; a
//              needed expert whose prefetch is still queued is promoted to a demand load; an absent one is
//              a demand load. Demand loads go ahead of every queued prefetch but do not preempt the
//              transfer on the link (as the shard's link does).
//   compute s  start_s = max(a_s, every needed expert on the device), end_s = start_s + τ. The wait
//              start_s - a_s is stall time; a needed expert not on the device at a_s is a stall.
//
// Lower bound on time (every report states it): any policy makes at least Belady's loads on each shard
// (MIN is optimal among all policies, prefetching or not, for unit-size experts), each link moves one
// expert at a time, and layer-steps compute one after another, so
//     time >= max(S·L·τ, max over shards of beladyLoads_shard · x)
// ("Belady's loads with perfect overlap": every transfer hidden under compute or other transfers).
// cache-sim-time.test.ts checks it against an exhaustive search over policies on tiny cases.
//
// Letters (glossary: docs/ARCHITECTURE.md): S decode steps (the cache simulators' meaning), L MoE layers, E
// experts per layer, C slots per shard, X expert bytes, G link bandwidth (10^9 bytes per second), x = X / G
// transfer time, τ compute time of one layer-step.
import type { AccessStream } from "./cache-access.js";
import type { CachePolicy } from "./cache-sim.js";

/** What a policy sees of its shard's link when it plans prefetches. */
export interface LinkView {
  /** Simulated time now, ms. */
  readonly nowMs: number;
  /** Milliseconds of transfers on the link or queued (the wait a new prefetch would have). */
  readonly backlogMs: number;
  /** x: milliseconds one expert holds the link. */
  readonly transferMs: number;
  /** τ: milliseconds of compute per layer-step. */
  readonly layerMs: number;
  /** Milliseconds the link has been busy so far (busyMs / nowMs: its utilisation). */
  readonly busyMs: number;
}

export interface TimedSimOptions {
  /** C: device slots per shard. */
  capacity: number;
  /** X: bytes one expert moves over the link. */
  expertBytes: number;
  /** G: link bandwidth in 10^9 bytes per second. */
  linkGbps: number;
  /** τ: compute milliseconds per layer-step (dense part and experts). */
  layerMs: number;
  /** Shards, each with its own C slots, link and policy; expert key g belongs to shard g mod shards (placement.ts). Default 1. */
  shards?: number;
  /** [S, L, E]: per-step predicted demand handed to beginStep. */
  demand?: Float32Array;
  /**
   * Late hints, as a live mesh may have them: step t's predicted demand reaches the policy only at window
   * `demandFromLayer` of step t (it is computed from step t's tokens while the first layers run); before,
   * the array handed to beginStep still holds step t-1's, and it is overwritten in place (as the shard's
   * hint feed does). Default 0: known when the step begins.
   */
  demandFromLayer?: number;
  /** [S, L, E]: the predicted demand of step t + 1 as known at step t (from step t's tokens), handed to beginStep. */
  nextDemand?: Float32Array;
  /** [S, L, E]: a sharper prediction of layer l known at window l (the pre-gate), handed to `correct`. */
  lookahead?: Float32Array;
  /** Tokens decoded (for time per token); default S. */
  tokens?: number;
}

export interface TimedResult {
  policy: string;
  capacity: number;
  shards: number;
  accesses: number;
  hits: number;
  /** Accesses whose expert was not on the device when the gate decided: compute waited. */
  stalls: number;
  loads: number;
  demandLoads: number;
  prefetchLoads: number;
  /** Prefetched experts evicted (or cancelled after their transfer) before any use. */
  wastedPrefetches: number;
  bytes: number;
  hitRatio: number;
  /** Simulated time of the whole stream, ms. */
  timeMs: number;
  msPerToken: number;
  stallMs: number;
  /** stallMs / timeMs. */
  stallShare: number;
  /** Milliseconds the busiest link was busy. */
  linkBusyMs: number;
}

/** The policies of one stream, one per shard (a policy keeps per-shard state). */
export type PolicyFactory = (shard: number) => CachePolicy;

enum Slot {
  Absent = 0,
  Queued = 1, // waiting for the link
  Started = 2, // its transfer has a start, so readyAt is known (on the device from readyAt)
}

interface Transfer {
  key: number;
  prefetch: boolean;
  queuedAt: number;
}

class ShardState {
  readonly state: Uint8Array; // [L*E]
  readonly readyAt: Float64Array; // [L*E]: end of the transfer once started
  readonly fresh: Uint8Array; // [L*E]: prefetched, not used since
  readonly pinned: Uint8Array; // [L*E]
  count = 0;
  linkFreeAt = 0;
  linkBusy = 0;
  queue: Transfer[] = []; // waiting, demand loads first
  r = { accesses: 0, hits: 0, stalls: 0, demandLoads: 0, prefetchLoads: 0, wastedPrefetches: 0 };

  constructor(
    readonly policy: CachePolicy,
    K: number,
    readonly x: number,
  ) {
    this.state = new Uint8Array(K);
    this.readyAt = new Float64Array(K);
    this.fresh = new Uint8Array(K);
    this.pinned = new Uint8Array(K);
  }

  /** Starts every queued transfer whose start time is before `t` (those are committed to the link). */
  advance(t: number): void {
    while (this.queue.length > 0) {
      const q = this.queue[0];
      const start = Math.max(this.linkFreeAt, q.queuedAt);
      if (start >= t && q.prefetch) return; // not started yet: a later demand load may still go ahead
      this.queue.shift();
      this.linkFreeAt = start + this.x;
      this.linkBusy += this.x;
      this.state[q.key] = Slot.Started;
      this.readyAt[q.key] = this.linkFreeAt;
      if (q.prefetch) this.r.prefetchLoads++;
      else this.r.demandLoads++;
    }
  }

  backlog(t: number): number {
    return Math.max(0, this.linkFreeAt - t) + this.queue.length * this.x;
  }

  enqueue(key: number, prefetch: boolean, t: number): void {
    this.state[key] = Slot.Queued;
    const item = { key, prefetch, queuedAt: t };
    if (prefetch) this.queue.push(item);
    else {
      const at = this.queue.findIndex((q) => q.prefetch);
      this.queue.splice(at < 0 ? this.queue.length : at, 0, item);
    }
  }

  promote(key: number, t: number): void {
    const i = this.queue.findIndex((q) => q.key === key);
    if (i < 0 || !this.queue[i].prefetch) return;
    this.queue.splice(i, 1);
    this.fresh[key] = 0;
    this.enqueue(key, false, t);
  }

  /** On the device at time t (its transfer has ended). */
  onDevice(k: number, t: number): boolean {
    return this.state[k] === Slot.Started && this.readyAt[k] <= t;
  }

  evict(v: number): void {
    if (this.state[v] === Slot.Queued)
      this.queue = this.queue.filter((q) => q.key !== v); // cancelled before it moved
    else if (this.fresh[v]) this.r.wastedPrefetches++;
    this.state[v] = Slot.Absent;
    this.fresh[v] = 0;
    this.count--;
    this.policy.remove(v);
  }
}

export function simulateTimed(stream: AccessStream, policies: PolicyFactory, opts: TimedSimOptions): TimedResult {
  const { numLayers: L, numExperts: E, steps: S, offsets, keys } = stream;
  const { capacity: C, expertBytes: X, linkGbps: G, layerMs: tau, demand, nextDemand, lookahead } = opts;
  const N = opts.shards ?? 1;
  const late = opts.demandFromLayer ?? 0;
  if (!Number.isInteger(late) || late < 0 || late > L)
    throw new RangeError(`simulateTimed: demandFromLayer must be an integer in [0, L = ${L}], got ${late}`);
  if (!Number.isInteger(C) || C < 1) throw new RangeError(`simulateTimed: capacity must be a positive integer, got ${C}`);
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`simulateTimed: shards must be a positive integer, got ${N}`);
  if (!(X > 0) || !Number.isFinite(X)) throw new RangeError(`simulateTimed: expertBytes must be > 0, got ${X}`);
  if (!(G > 0) || !Number.isFinite(G)) throw new RangeError(`simulateTimed: linkGbps must be > 0, got ${G}`);
  if (!(tau >= 0) || !Number.isFinite(tau)) throw new RangeError(`simulateTimed: layerMs must be >= 0, got ${tau}`);
  const K = L * E;
  for (const [name, a] of [
    ["demand", demand],
    ["nextDemand", nextDemand],
    ["lookahead", lookahead],
  ] as const) {
    if (a !== undefined && a.length !== S * K)
      throw new RangeError(`simulateTimed: ${name} has ${a.length} values, expected S*L*E = ${S}*${L}*${E}`);
  }
  const x = X / (G * 1e6); // bytes / (bytes per ms)
  const shards = Array.from({ length: N }, (_, i) => new ShardState(policies(i), K, x));
  const owner = (k: number) => k % N;
  const name = shards[0].policy.name;
  let prevStart = 0; // start of layer-step s-1
  let prevEnd = 0; // end of layer-step s-1
  let stallMs = 0;
  let prev = keys.subarray(0, 0);
  const liveDemand: (Float32Array | undefined)[] = [];

  const victimFor = (sh: ShardState, now: number, admitFor: number | undefined): number | undefined => {
    const evictable = (k: number) => sh.onDevice(k, now) && sh.pinned[k] === 0;
    const v = sh.policy.victim(evictable);
    if (v === undefined) return undefined;
    if (!evictable(v)) throw new Error(`simulateTimed: policy ${sh.policy.name} chose ${v}, which it was not offered`);
    if (admitFor !== undefined && sh.policy.admit && !sh.policy.admit(admitFor, v)) return undefined;
    return v;
  };

  for (let t = 0; t < S; t++) {
    // With late hints each shard's policy reads one live array per shard, updated in place at window `late`.
    const stepDemand = (i: number) => {
      if (demand === undefined || late === 0) return demand?.subarray(t * K, (t + 1) * K);
      const a = (liveDemand[i] ??= new Float32Array(K));
      if (t > 0) a.set(demand.subarray((t - 1) * K, t * K));
      return a;
    };
    for (const [i, sh] of shards.entries()) sh.policy.beginStep?.(t, stepDemand(i), nextDemand?.subarray(t * K, (t + 1) * K));
    for (let l = 0; l < L; l++) {
      const s = t * L + l;
      const need = keys.subarray(offsets[s], offsets[s + 1]);
      // Window s: while layer-step s-1 computes (from prevStart), prefetch for layer l and later.
      const w = prevStart;
      for (const k of prev) shards[owner(k)].pinned[k] = 1;
      if (l === late && late > 0 && demand !== undefined) for (const a of liveDemand) a?.set(demand.subarray(t * K, (t + 1) * K));
      for (const [i, sh] of shards.entries()) {
        sh.policy.beginLayer?.(l);
        if (lookahead) sh.policy.correct?.(l, lookahead.subarray(s * E, (s + 1) * E));
        if (!sh.policy.prefetch) continue;
        sh.advance(w);
        const view = {
          nowMs: w,
          get backlogMs() {
            return sh.backlog(w);
          },
          transferMs: x,
          layerMs: tau,
          busyMs: sh.linkBusy,
        };
        const isResident = (k: number) => sh.state[k] !== Slot.Absent;
        for (const k of sh.policy.prefetch(l, isResident, view)) {
          if (!Number.isInteger(k) || k < 0 || k >= K)
            throw new RangeError(`simulateTimed: policy ${sh.policy.name} prefetched key ${k}, outside 0..${K - 1}`);
          if (owner(k) !== i || sh.state[k] !== Slot.Absent) continue;
          if (sh.count >= C) {
            const v = victimFor(sh, w, k);
            if (v === undefined) break;
            sh.evict(v);
          }
          sh.count++;
          sh.enqueue(k, true, w);
          sh.fresh[k] = 1;
          sh.policy.insert(k);
        }
      }
      for (const k of prev) shards[owner(k)].pinned[k] = 0;
      // Access s at a = prevEnd: the gate has decided.
      const a = prevEnd;
      for (const sh of shards) sh.policy.beginAccess?.(l, need);
      for (const k of need) shards[owner(k)].pinned[k] = 1;
      let start = a;
      for (const k of need) {
        const sh = shards[owner(k)];
        sh.r.accesses++;
        sh.advance(a);
        if (sh.onDevice(k, a)) {
          sh.r.hits++;
        } else {
          sh.r.stalls++;
          if (sh.state[k] === Slot.Queued) sh.promote(k, a);
          else if (sh.state[k] === Slot.Absent) {
            if (sh.count >= C) {
              let v = victimFor(sh, a, undefined);
              // Every slot taken by this layer or by transfers under way: reuse the slot of one of them
              // (C below the layer's demand: its experts compute in turns; the time of that is not modelled).
              v ??= sh.policy.victim((q) => sh.state[q] !== Slot.Absent && q !== k && !(sh.state[q] === Slot.Queued && sh.pinned[q] === 1));
              if (v === undefined) throw new Error(`simulateTimed: no slot for expert ${k} on shard ${owner(k)} (C=${C})`);
              sh.evict(v);
            }
            sh.count++;
            sh.enqueue(k, false, a);
            sh.policy.insert(k);
          }
        }
        if (sh.fresh[k]) sh.fresh[k] = 0;
        sh.policy.touch(k);
      }
      for (const sh of shards) sh.advance(a + 1e-9); // demand loads start now (or when the link frees)
      for (const k of need) {
        const sh = shards[owner(k)];
        // (Absent: its slot went to another expert of this layer after it computed; readyAt stays.)
        if (sh.state[k] === Slot.Queued)
          throw new Error(`simulateTimed: expert ${k} needed at layer-step ${s} has not started its transfer`);
        start = Math.max(start, sh.readyAt[k]);
      }
      stallMs += start - a;
      const end = start + tau;
      for (const k of need) shards[owner(k)].pinned[k] = 0;
      for (const sh of shards) sh.policy.layerRan?.(l, need);
      prevStart = start;
      prevEnd = end;
      prev = need;
    }
  }
  // Transfers still queued at the end: prefetches that never moved are not loads.
  const r = { accesses: 0, hits: 0, stalls: 0, demandLoads: 0, prefetchLoads: 0, wastedPrefetches: 0 };
  let linkBusyMs = 0;
  for (const sh of shards) {
    sh.advance(prevEnd);
    for (const [k, v] of Object.entries(sh.r) as [keyof typeof r, number][]) r[k] += v;
    linkBusyMs = Math.max(linkBusyMs, sh.linkBusy);
  }
  const timeMs = prevEnd;
  const loads = r.demandLoads + r.prefetchLoads;
  const tokens = opts.tokens ?? S;
  return {
    policy: name,
    capacity: C,
    shards: N,
    ...r,
    loads,
    bytes: loads * X,
    hitRatio: r.accesses === 0 ? NaN : r.hits / r.accesses,
    timeMs,
    msPerToken: tokens > 0 ? timeMs / tokens : NaN,
    stallMs,
    stallShare: timeMs > 0 ? stallMs / timeMs : 0,
    linkBusyMs,
  };
}

/** The lower bound on time of the file comment: max(S·L·τ, max over shards of Belady's loads · x), ms. */
export function timeLowerBound(
  stream: AccessStream,
  beladyLoadsPerShard: readonly number[],
  opts: { expertBytes: number; linkGbps: number; layerMs: number },
): number {
  const x = opts.expertBytes / (opts.linkGbps * 1e6);
  return Math.max(stream.steps * stream.numLayers * opts.layerMs, Math.max(0, ...beladyLoadsPerShard) * x);
}
