// Route-aware token scheduling (ExpertFlow's regrouping): the W sequences of a decode window are split
// into M = ceil(W / T) batches of at most T that together activate as few experts as possible, judged on
// each sequence's (predicted) route for its next token. The scheduler only chooses which sequences step
// together: every sequence is in exactly one batch and its own tokens keep their order.
//
// Letters (glossary: docs/ARCHITECTURE.md): W sequences in the window, T tokens per decode step (at most T
// sequences), M = ceil(W / T) batches, L MoE layers, E experts per layer, k experts per token, S_i^l the
// experts of sequence i at layer l, c_m^l(e) how many members of batch m use expert e at layer l.
//
//   objective   A = Σ_m Σ_l |∪_{i ∈ B_m} S_i^l|    (scheduler-routes.ts: activatedExperts)
//
// Partitions:
//   arrival   consecutive runs of T in window order (the baseline).
//   hamming   ExpertFlow's approach: cluster by the Hamming distance of route matrices, Σ_l |S_i^l △ S_j^l|.
//             Balanced k-medoids: seeds are the farthest pair (then farthest points), every sequence goes to
//             its nearest medoid that has room, most decided first (largest gap to its second choice),
//             medoids are re-chosen and the assignment repeated until it settles.
//   greedy    grows the batches from the same seeds, each time placing the (sequence, batch) pair that adds
//             the fewest experts to that batch's union: it optimises A itself rather than a distance.
//   regroup   local search on A from each of the three (swap two sequences of different batches, or move one
//             into a batch with room, when A drops; the exact change is read from the counts c), keeping the
//             best result; arrival order wins ties, so regroup is never worse than arrival on A.
import { hammingDistance, popcount32, type RouteSets } from "./scheduler-routes.js";

export type Batches = number[][];

export type RegroupStart = "arrival" | "hamming" | "greedy";

/** Windows above this many sequences start local search from arrival order only (greedy is O(W^2 M)). */
export const REGROUP_FULL_SEARCH_MAX = 64;

export interface RegroupOptions {
  /** Starting partitions that local search improves (default: all three; arrival only above REGROUP_FULL_SEARCH_MAX). */
  readonly starts?: readonly RegroupStart[];
  /** Sweeps of local search over all sequences (default 8); each sweep is O(W^2 L k). */
  readonly maxSweeps?: number;
  /** Swap evaluations per local search (default 65,536, a few ms): bounds the time of large windows. */
  readonly maxEvaluations?: number;
}

export const DEFAULT_MAX_EVALUATIONS = 65_536;

/** ceil(W / T), after checking T. */
export function batchCount(count: number, batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`scheduler: batch size T=${batchSize} must be a positive integer`);
  return Math.ceil(count / batchSize);
}

/** Consecutive runs of T sequences in window order. */
export function arrivalBatches(count: number, batchSize: number): Batches {
  const M = batchCount(count, batchSize);
  return Array.from({ length: M }, (_, m) =>
    Array.from({ length: Math.min(batchSize, count - m * batchSize) }, (_, j) => m * batchSize + j),
  );
}

/** ExpertFlow-style clustering by the Hamming distance of route matrices (see the top of this file). */
export function hammingBatches(sets: RouteSets, batchSize: number, maxRounds = 8): Batches {
  const W = sets.count;
  const M = batchCount(W, batchSize);
  if (M <= 1) return arrivalBatches(W, batchSize);
  const D = new Int32Array(W * W); // [W, W]
  for (let i = 0; i < W; i++) {
    for (let j = i + 1; j < W; j++) D[i * W + j] = D[j * W + i] = hammingDistance(sets, i, j);
  }
  let medoids = farthestSeeds(W, M, (i, j) => D[i * W + j]);
  let batches = assignToMedoids(W, batchSize, medoids, D);
  for (let round = 0; round < maxRounds; round++) {
    const next = batches.map((b) => {
      let best = b[0];
      let bestSum = Infinity;
      for (const i of b) {
        let s = 0;
        for (const j of b) s += D[i * W + j];
        if (s < bestSum) {
          best = i;
          bestSum = s;
        }
      }
      return best;
    });
    if (next.every((m, x) => m === medoids[x])) break;
    medoids = next;
    batches = assignToMedoids(W, batchSize, medoids, D);
  }
  return normalize(batches);
}

/** Batches grown from farthest seeds by the smallest increase of each batch's union (see the top). */
export function greedyBatches(sets: RouteSets, batchSize: number): Batches {
  const { count: W, numLayers: L, words: Q, bits } = sets;
  const M = batchCount(W, batchSize);
  if (M <= 1) return arrivalBatches(W, batchSize);
  const n = L * Q;
  const seeds = farthestSeeds(W, M, (i, j) => hammingDistance(sets, i, j));
  const unions = new Uint32Array(M * n); // [M, L, Q]
  const batches: Batches = seeds.map(() => []);
  const placed = new Uint8Array(W);
  const place = (i: number, m: number) => {
    batches[m].push(i);
    placed[i] = 1;
    for (let x = 0; x < n; x++) unions[m * n + x] |= bits[i * n + x];
  };
  seeds.forEach((s, m) => {
    place(s, m);
  });
  for (let left = W - M; left > 0; left--) {
    let bestI = -1;
    let bestM = -1;
    let bestCost = Infinity;
    for (let i = 0; i < W; i++) {
      if (placed[i]) continue;
      for (let m = 0; m < M; m++) {
        if (batches[m].length >= batchSize) continue;
        let cost = 0;
        for (let x = 0; x < n; x++) cost += popcount32(bits[i * n + x] & ~unions[m * n + x]);
        if (cost < bestCost) {
          bestI = i;
          bestM = m;
          bestCost = cost;
        }
      }
    }
    place(bestI, bestM);
  }
  return normalize(batches);
}

/**
 * Local search on A from `start` (a partition into batches of at most T): per sequence, the best swap with a
 * sequence of another batch or move into a batch with room, applied when it lowers A; sweeps repeat until
 * none helps, `maxSweeps` is reached or `maxEvaluations` swaps were evaluated. Returns a new partition,
 * never worse than `start`.
 */
export function improveBatches(
  sets: RouteSets,
  start: readonly (readonly number[])[],
  batchSize: number,
  maxSweeps = 8,
  maxEvaluations = DEFAULT_MAX_EVALUATIONS,
): Batches {
  const { count: W, numLayers: L, numExperts: E, words: Q, bits } = sets;
  checkPartition(W, start, batchSize);
  const M = start.length;
  const batchOf = new Int32Array(W);
  const size = new Int32Array(M);
  const counts = new Uint16Array(M * L * E); // c [M, L, E]
  // Expert lists per sequence and layer: experts of (i, l) are list[offs[i*L+l] .. offs[i*L+l+1]).
  const offs = new Int32Array(W * L + 1);
  const listArr: number[] = [];
  for (let i = 0; i < W; i++) {
    for (let l = 0; l < L; l++) {
      for (let q = 0; q < Q; q++) {
        for (let w = bits[(i * L + l) * Q + q]; w !== 0; w &= w - 1) listArr.push(q * 32 + (31 - Math.clz32(w & -w)));
      }
      offs[i * L + l + 1] = listArr.length;
    }
  }
  const list = Int32Array.from(listArr);
  const has = (i: number, l: number, e: number) => (bits[(i * L + l) * Q + (e >>> 5)] & (1 << (e & 31))) !== 0;
  const add = (i: number, m: number, dir: 1 | -1) => {
    for (let l = 0; l < L; l++) for (let x = offs[i * L + l]; x < offs[i * L + l + 1]; x++) counts[(m * L + l) * E + list[x]] += dir;
  };
  start.forEach((b, m) => {
    size[m] = b.length;
    for (const i of b) {
      batchOf[i] = m;
      add(i, m, 1);
    }
  });
  // Change of A when sequence i leaves batch a and j (-1: nobody) joins it from batch b, and i joins b.
  const delta = (i: number, j: number, a: number, b: number): number => {
    let d = 0;
    for (let l = 0; l < L; l++) {
      const ca = (a * L + l) * E;
      const cb = (b * L + l) * E;
      for (let x = offs[i * L + l]; x < offs[i * L + l + 1]; x++) {
        const e = list[x];
        if (j >= 0 && has(j, l, e)) continue;
        if (counts[ca + e] === 1) d--;
        if (counts[cb + e] === 0) d++;
      }
      if (j < 0) continue;
      for (let x = offs[j * L + l]; x < offs[j * L + l + 1]; x++) {
        const e = list[x];
        if (has(i, l, e)) continue;
        if (counts[cb + e] === 1) d--;
        if (counts[ca + e] === 0) d++;
      }
    }
    return d;
  };
  let evaluations = 0;
  for (let sweep = 0; sweep < maxSweeps && evaluations < maxEvaluations; sweep++) {
    let improved = false;
    for (let i = 0; i < W && evaluations < maxEvaluations; i++) {
      const a = batchOf[i];
      let bestD = 0;
      let bestJ = -1;
      let bestB = -1;
      for (let b = 0; b < M; b++) {
        if (b === a) continue;
        if (size[b] < batchSize && size[a] > 1) {
          const d = delta(i, -1, a, b);
          if (d < bestD) {
            bestD = d;
            bestJ = -1;
            bestB = b;
          }
        }
      }
      for (let j = 0; j < W; j++) {
        const b = batchOf[j];
        if (b === a) continue;
        const d = delta(i, j, a, b);
        evaluations++;
        if (d < bestD) {
          bestD = d;
          bestJ = j;
          bestB = b;
        }
      }
      if (bestB < 0) continue;
      improved = true;
      add(i, a, -1);
      add(i, bestB, 1);
      batchOf[i] = bestB;
      if (bestJ >= 0) {
        add(bestJ, bestB, -1);
        add(bestJ, a, 1);
        batchOf[bestJ] = a;
      } else {
        size[a]--;
        size[bestB]++;
      }
    }
    if (!improved) break;
  }
  const out: Batches = Array.from({ length: M }, () => []);
  for (let i = 0; i < W; i++) out[batchOf[i]].push(i);
  return normalize(out.filter((b) => b.length > 0));
}

/**
 * The regrouped partition of the window (see the top of this file): local search from each start, the
 * lowest A kept, arrival order first among equals. Batches are returned sorted (each ascending, then by
 * first member), so the same input always gives the same batches.
 */
export function regroup(sets: RouteSets, batchSize: number, options: RegroupOptions = {}): Batches {
  const W = sets.count;
  const M = batchCount(W, batchSize);
  if (M <= 1) return arrivalBatches(W, batchSize);
  const starts = options.starts ?? (W <= REGROUP_FULL_SEARCH_MAX ? ["arrival", "hamming", "greedy"] : ["arrival"]);
  const maxSweeps = options.maxSweeps ?? 8;
  const maxEvaluations = options.maxEvaluations ?? DEFAULT_MAX_EVALUATIONS;
  let best: Batches = arrivalBatches(W, batchSize);
  let bestA = objective(sets, best);
  for (const s of starts) {
    const initial =
      s === "arrival" ? arrivalBatches(W, batchSize) : s === "hamming" ? hammingBatches(sets, batchSize) : greedyBatches(sets, batchSize);
    const improved = improveBatches(sets, initial, batchSize, maxSweeps, maxEvaluations);
    const a = objective(sets, improved);
    if (a < bestA) [best, bestA] = [improved, a];
  }
  return best;
}

/** Throws unless `batches` holds each of 0..W-1 exactly once, in non-empty batches of at most T. */
export function checkPartition(count: number, batches: readonly (readonly number[])[], batchSize: number): void {
  const seen = new Uint8Array(count);
  for (const b of batches) {
    if (b.length === 0 || b.length > batchSize) throw new RangeError(`scheduler: a batch of ${b.length} sequences (T=${batchSize})`);
    for (const i of b) {
      if (!Number.isInteger(i) || i < 0 || i >= count) throw new RangeError(`scheduler: sequence ${i} out of range (W=${count})`);
      if (seen[i]++) throw new RangeError(`scheduler: sequence ${i} is in two batches`);
    }
  }
  const missing = seen.indexOf(0);
  if (missing >= 0) throw new RangeError(`scheduler: sequence ${missing} is in no batch`);
}

function objective(sets: RouteSets, batches: Batches): number {
  const { numLayers: L, words: Q, bits } = sets;
  let a = 0;
  for (const b of batches) {
    for (let x = 0; x < L * Q; x++) {
      let w = 0;
      for (const i of b) w |= bits[i * L * Q + x];
      a += popcount32(w);
    }
  }
  return a;
}

/** M seeds: the farthest pair, then repeatedly the sequence farthest from the seeds chosen (lowest index on ties). */
function farthestSeeds(W: number, M: number, dist: (i: number, j: number) => number): number[] {
  let [s0, s1, far] = [0, 1, -1];
  for (let i = 0; i < W; i++) {
    for (let j = i + 1; j < W; j++) {
      const d = dist(i, j);
      if (d > far) [s0, s1, far] = [i, j, d];
    }
  }
  const seeds = [s0, s1];
  const nearest = Array.from({ length: W }, (_, i) => Math.min(dist(i, s0), dist(i, s1)));
  while (seeds.length < M) {
    let next = -1;
    for (let i = 0; i < W; i++) if (!seeds.includes(i) && (next < 0 || nearest[i] > nearest[next])) next = i;
    seeds.push(next);
    for (let i = 0; i < W; i++) nearest[i] = Math.min(nearest[i], dist(i, next));
  }
  return seeds;
}

/** Each medoid in its own batch, then the others, most decided first, to their nearest medoid with room. */
function assignToMedoids(W: number, T: number, medoids: number[], D: Int32Array): Batches {
  const M = medoids.length;
  const batches: Batches = medoids.map((m) => [m]);
  const others: { i: number; order: number[]; regret: number }[] = [];
  for (let i = 0; i < W; i++) {
    if (medoids.includes(i)) continue;
    const order = Array.from({ length: M }, (_, m) => m).sort((x, y) => D[i * W + medoids[x]] - D[i * W + medoids[y]] || x - y);
    others.push({ i, order, regret: D[i * W + medoids[order[1]]] - D[i * W + medoids[order[0]]] });
  }
  others.sort((x, y) => y.regret - x.regret || x.i - y.i);
  for (const { i, order } of others) batches[order.find((m) => batches[m].length < T)!].push(i);
  return batches;
}

function normalize(batches: Batches): Batches {
  return batches.map((b) => [...b].sort((x, y) => x - y)).sort((x, y) => x[0] - y[0]);
}
