// The next-step table: a predictor of the routing of the token that follows, from the token now being
// decoded (known before its step runs; the next one is not sampled yet). For each token id v, layer l and
// expert e, over training traces, how often the token after v in the same sequence chose e at l, smoothed
// toward the frequency prior with a pseudo-count a:
//
//   p_next[v, l, e] = (c[v, l, e] + a · prior[l, e]) / (n_v + a)
//
// n_v the tokens v followed by another in its sequence, c the count of those whose successor chose e at
// layer l, prior[l, e] the share of successors that chose e (rows sum to k). An id never seen followed
// (or beyond the table) gets the prior. ExpertFlow's eviction uses it for the experts whose next use is in
// the next step (cache-expertflow.ts); in real MoE models consecutive tokens' routes are correlated, and
// the token itself carries most of what is known about its successor.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, V token ids (largest seen + 1), L MoE layers, E experts per layer, k experts per
// token, a pseudo-count.
import type { ExpertChoices } from "./predictor-metrics.js";

export interface NextStepTable {
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  readonly topK: number; // k
  readonly vocab: number; // V
  /** Pairs (token, successor) counted. */
  readonly pairs: number;
  /** [V + 1, L, E]: p_next of token v in row v; row V is the prior (for unseen or out-of-range ids). */
  readonly probabilities: Float32Array;
}

export type NextStepTrace = ExpertChoices & {
  readonly tokenIds: Int32Array;
  readonly sequences: readonly { readonly start: number; readonly length: number }[];
};

/** The table of `traces` (which must agree on L, E and k); `pseudo` is a (default 2). */
export function buildNextStepTable(traces: readonly NextStepTrace[], pseudo = 2): NextStepTable {
  const first = traces[0];
  if (first === undefined) throw new RangeError("buildNextStepTable: no traces");
  if (!(pseudo > 0) || !Number.isFinite(pseudo)) throw new RangeError(`buildNextStepTable: pseudo-count must be > 0, got ${pseudo}`);
  const { numLayers: L, numExperts: E, topK: k } = first;
  const K = L * E;
  let V = 0;
  for (const [i, t] of traces.entries()) {
    if (t.numLayers !== L || t.numExperts !== E || t.topK !== k)
      throw new RangeError(
        `buildNextStepTable: trace ${i} has L=${t.numLayers} E=${t.numExperts} k=${t.topK}, trace 0 has L=${L} E=${E} k=${k}`,
      );
    for (const id of t.tokenIds) {
      if (!Number.isInteger(id) || id < 0)
        throw new RangeError(`buildNextStepTable: trace ${i}: token id ${id} is not a non-negative integer`);
      V = Math.max(V, id + 1);
    }
  }
  const counts = new Float64Array(V * K);
  const followed = new Float64Array(V);
  const prior = new Float64Array(K);
  let pairs = 0;
  for (const [i, t] of traces.entries()) {
    for (const s of t.sequences) {
      if (s.start < 0 || s.start + s.length > t.tokens)
        throw new RangeError(
          `buildNextStepTable: trace ${i}: sequence [${s.start}, ${s.start + s.length}) lies outside its ${t.tokens} tokens`,
        );
      for (let n = s.start; n + 1 < s.start + s.length; n++) {
        const v = t.tokenIds[n];
        followed[v]++;
        pairs++;
        for (let l = 0; l < L; l++) {
          for (let j = 0; j < k; j++) {
            const e = t.experts[((n + 1) * L + l) * k + j];
            if (e >= E) throw new RangeError(`buildNextStepTable: trace ${i}: expert id ${e} out of range (E=${E})`);
            counts[v * K + l * E + e]++;
            prior[l * E + e]++;
          }
        }
      }
    }
  }
  if (pairs === 0) throw new RangeError("buildNextStepTable: no token is followed by another in its sequence");
  const probabilities = new Float32Array((V + 1) * K);
  for (let i = 0; i < K; i++) probabilities[V * K + i] = prior[i] / pairs;
  for (let v = 0; v < V; v++) {
    for (let i = 0; i < K; i++) probabilities[v * K + i] = (counts[v * K + i] + (pseudo * prior[i]) / pairs) / (followed[v] + pseudo);
  }
  return { numLayers: L, numExperts: E, topK: k, vocab: V, pairs, probabilities };
}

/** [N, L, E]: the predicted routing of the token after each of `tokenIds` (the prior for an id outside the table). */
export function nextStepPredictions(table: NextStepTable, tokenIds: ArrayLike<number>): Float32Array {
  const { numLayers: L, numExperts: E, vocab: V, probabilities } = table;
  const K = L * E;
  const out = new Float32Array(tokenIds.length * K);
  for (let n = 0; n < tokenIds.length; n++) {
    const id = tokenIds[n];
    const row = Number.isInteger(id) && id >= 0 && id < V ? id : V;
    out.set(probabilities.subarray(row * K, (row + 1) * K), n * K);
  }
  return out;
}
