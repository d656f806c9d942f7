// The token table: a cheap routing predictor conditioned on the token alone. For each token id and MoE
// layer, how often (over training traces) each expert was in the token's top-k; the prediction for a token
// is the k' experts it used most, or the frequency prior's k' where the token was never seen. In decode the
// next input token is known before its step runs, so the table can be read before layer 0.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, V token ids (the largest seen + 1), L MoE layers, E
// experts per layer, k experts per token in the traces, k' experts predicted.
import type { ExpertChoices } from "./predictor-metrics.js";

export interface TokenTable {
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  readonly vocab: number; // V
  /** [V, L, E] times expert e was in token v's top-k at layer l. */
  readonly counts: Uint32Array;
  /** [L, E] the same over all tokens (the fallback for unseen ids). */
  readonly prior: Float64Array;
}

/** The table of `traces` (token ids with their routing), which must agree on L, E and k. */
export function buildTokenTable(traces: readonly (ExpertChoices & { readonly tokenIds: Int32Array })[]): TokenTable {
  const first = traces[0];
  if (first === undefined) throw new RangeError("buildTokenTable: no traces");
  const { numLayers: L, numExperts: E, topK: k } = first;
  let V = 0;
  for (const [i, t] of traces.entries()) {
    if (t.numLayers !== L || t.numExperts !== E || t.topK !== k) {
      throw new RangeError(
        `buildTokenTable: trace ${i} has L=${t.numLayers} E=${t.numExperts} k=${t.topK}, trace 0 has L=${L} E=${E} k=${k}`,
      );
    }
    for (const id of t.tokenIds) {
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`buildTokenTable: trace ${i}: token id ${id} is negative`);
      V = Math.max(V, id + 1);
    }
  }
  const counts = new Uint32Array(V * L * E);
  const prior = new Float64Array(L * E);
  for (const t of traces) {
    for (let n = 0; n < t.tokens; n++) {
      for (let l = 0; l < L; l++) {
        for (let j = 0; j < k; j++) {
          const e = t.experts[(n * L + l) * k + j];
          if (e >= E) throw new RangeError(`buildTokenTable: expert id ${e} out of range (E=${E})`);
          counts[(t.tokenIds[n] * L + l) * E + e]++;
          prior[l * E + e]++;
        }
      }
    }
  }
  return { numLayers: L, numExperts: E, vocab: V, counts, prior };
}

/** Predicted experts [N, L, k'] of `tokenIds` [N]: each token's k' most used, highest first, lower id on ties. */
export function tokenTableTopK(table: TokenTable, tokenIds: ArrayLike<number>, k: number): Uint16Array {
  const { numLayers: L, numExperts: E, vocab: V, counts, prior } = table;
  if (!Number.isInteger(k) || k < 1 || k > E) throw new RangeError(`tokenTableTopK: k=${k} must be in 1..${E}`);
  const out = new Uint16Array(tokenIds.length * L * k);
  const row = new Float64Array(E);
  const taken = new Uint8Array(E);
  for (let n = 0; n < tokenIds.length; n++) {
    const id = tokenIds[n];
    for (let l = 0; l < L; l++) {
      let seen = 0;
      if (id >= 0 && id < V) for (let e = 0; e < E; e++) seen += row[e] = counts[(id * L + l) * E + e];
      if (seen === 0) row.set(prior.subarray(l * E, (l + 1) * E));
      taken.fill(0);
      for (let j = 0; j < k; j++) {
        let best = -1;
        for (let e = 0; e < E; e++) if (!taken[e] && (best < 0 || row[e] > row[best])) best = e;
        taken[best] = 1;
        out[(n * L + l) * k + j] = best;
      }
    }
  }
  return out;
}
