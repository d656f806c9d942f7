// Two per-token routing predictions built from a trace itself, for cache benchmarks and tests.
//
//   previous-token + prior (oracle-free): token n's prediction mixes the experts that the previous token
//     of its sequence used at each layer (known before token n runs) with a frequency prior:
//       p[n, l, e] = α·[e ∈ top-k of token n-1 at l] + (1 - α)·prior[l, e];   the first token: prior.
//   oracle (tests and references only): p = 1 for the experts the token truly uses, else 0.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, L MoE layers, E experts per layer, k experts per token, α
// weight of the previous token.
import type { TraceRouting } from "./cache-access.js";

/** [N, L, E] previous-token + prior predictions; `prior` is [L, E] (e.g. FrequencyPrior.probabilities). */
export function previousTokenPredictions(trace: TraceRouting, prior: Float32Array, alpha = 0.5): Float32Array {
  const { tokens: N, numLayers: L, numExperts: E, topK: k } = trace;
  if (prior.length !== L * E) throw new RangeError(`previousTokenPredictions: prior has ${prior.length} values, expected L*E = ${L}*${E}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`previousTokenPredictions: alpha must be in [0, 1], got ${alpha}`);
  const out = new Float32Array(N * L * E); // [N, L, E]
  const first = new Uint8Array(N);
  for (const s of trace.sequences) if (s.length > 0) first[s.start] = 1;
  for (let n = 0; n < N; n++) {
    const row = out.subarray(n * L * E, (n + 1) * L * E);
    if (first[n] || n === 0) {
      row.set(prior);
      continue;
    }
    for (let i = 0; i < L * E; i++) row[i] = (1 - alpha) * prior[i];
    for (let l = 0; l < L; l++) {
      for (let j = 0; j < k; j++) row[l * E + trace.experts[((n - 1) * L + l) * k + j]] += alpha;
    }
  }
  return out;
}

/** [N, L, E] the true routing as probabilities: a perfect predictor (for tests and as a labelled reference). */
export function oraclePredictions(trace: TraceRouting): Float32Array {
  const { tokens: N, numLayers: L, numExperts: E, topK: k } = trace;
  const out = new Float32Array(N * L * E);
  for (let n = 0; n < N; n++) {
    for (let l = 0; l < L; l++) for (let j = 0; j < k; j++) out[(n * L + l) * E + trace.experts[(n * L + l) * k + j]] = 1;
  }
  return out;
}
