// The exact optimum of the scheduler's objective for a window cut into two batches, by enumeration: the
// reference that the heuristics of scheduler-regroup.ts are measured against (benchmarks, tests).
//
// Letters (glossary: docs/ARCHITECTURE.md): W sequences in the window (T < W <= 2T, so M = 2 batches), T tokens
// per decode step (at most T sequences), L MoE layers, Q 32-bit words per layer's set. Cost: C(W-1, ⌊W/2⌋)
// partitions, each O(W L Q).
import { popcount32, type RouteSets } from "./scheduler-routes.js";
import type { Batches } from "./scheduler-regroup.js";

/** Most sequences accepted (C(23, 11) = 1.35 M partitions). */
export const EXACT_MAX_WINDOW = 24;

/** min over partitions into two batches of at most T of A = Σ_m Σ_l |∪ S|, with one partition reaching it. */
export function optimalTwoBatches(sets: RouteSets, batchSize: number): { activated: number; batches: Batches } {
  const { count: W, numLayers: L, words: Q, bits } = sets;
  if (!(W > batchSize && W <= 2 * batchSize)) throw new RangeError(`optimalTwoBatches: W=${W} must be in T+1..2T for T=${batchSize}`);
  if (W > EXACT_MAX_WINDOW) throw new RangeError(`optimalTwoBatches: W=${W} exceeds the limit ${EXACT_MAX_WINDOW}`);
  const n = L * Q;
  const inFirst = new Uint8Array(W);
  const ua = new Uint32Array(n);
  const ub = new Uint32Array(n);
  let best = Infinity;
  let bestMask: Uint8Array = inFirst.slice();
  // Sequence 0 is always in the first batch (the two batches are interchangeable).
  const visit = (next: number, chosen: number) => {
    if (chosen >= W - batchSize && chosen <= batchSize) {
      ua.fill(0);
      ub.fill(0);
      for (let i = 0; i < W; i++) {
        const u = inFirst[i] ? ua : ub;
        for (let x = 0; x < n; x++) u[x] |= bits[i * n + x];
      }
      let a = 0;
      for (let x = 0; x < n; x++) a += popcount32(ua[x]) + popcount32(ub[x]);
      if (a < best) [best, bestMask] = [a, inFirst.slice()];
    }
    if (chosen === batchSize) return;
    for (let i = next; i < W; i++) {
      inFirst[i] = 1;
      visit(i + 1, chosen + 1);
      inFirst[i] = 0;
    }
  };
  inFirst[0] = 1;
  visit(1, 1);
  const first: number[] = [];
  const second: number[] = [];
  for (let i = 0; i < W; i++) (bestMask[i] ? first : second).push(i);
  return { activated: best, batches: [first, second] };
}
