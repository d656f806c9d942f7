// The frequency prior: the baseline routing-path predictor. For every MoE layer, the share of tokens
// whose top-k includes each expert, counted over one or more traces; the same for every token.
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer, k experts chosen per
// token.
import type { ExpertChoices } from "./predictor-metrics.js";

export interface FrequencyPrior {
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  readonly topK: number; // k
  /** Tokens counted (all traces together). */
  readonly tokens: number;
  /** [L, E]: P[l][e] = (tokens whose top-k at layer l includes e) / tokens; each row sums to k. */
  readonly probabilities: Float32Array;
}

/** The prior of `traces`, which must agree on L, E and k and hold at least one token. */
export function frequencyPrior(traces: readonly ExpertChoices[]): FrequencyPrior {
  const first = traces[0];
  if (first === undefined) throw new RangeError("frequencyPrior: no traces");
  const { numLayers: L, numExperts: E, topK: k } = first;
  const counts = new Float64Array(L * E); // [L, E]
  let tokens = 0;
  for (const [i, trace] of traces.entries()) {
    if (trace.numLayers !== L || trace.numExperts !== E || trace.topK !== k) {
      throw new RangeError(
        `frequencyPrior: trace ${i} has L=${trace.numLayers} E=${trace.numExperts} k=${trace.topK}, trace 0 has L=${L} E=${E} k=${k}`,
      );
    }
    if (trace.experts.length !== trace.tokens * L * k) throw new RangeError(`frequencyPrior: trace ${i}: experts length is not T*L*k`);
    for (let t = 0; t < trace.tokens; t++) {
      for (let l = 0; l < L; l++) {
        for (let j = 0; j < k; j++) {
          const e = trace.experts[(t * L + l) * k + j];
          if (e >= E) throw new RangeError(`frequencyPrior: trace ${i}: expert id ${e} out of range (E=${E})`);
          counts[l * E + e]++;
        }
      }
    }
    tokens += trace.tokens;
  }
  if (tokens === 0) throw new RangeError("frequencyPrior: the traces hold no token");
  return { numLayers: L, numExperts: E, topK: k, tokens, probabilities: Float32Array.from(counts, (c) => c / tokens) };
}
