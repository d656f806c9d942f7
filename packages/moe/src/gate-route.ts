// The gate of every supported model family as one function of a spec (packages/model/FAMILIES.md says
// which family uses what, and where in Hugging Face transformers each rule comes from):
//
//   scores  s = softmax(z)            (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE)   over the E router logits z, fp32
//           s = sigmoid(z)            (DeepSeek-V3, Kimi-K2)
//   choice  c = s + b                 b: the selection-only correction bias (zero without one)
//           groups: the E experts form G equal groups; a group scores the sum of its two best c; only the
//           experts of the Gk best groups stay eligible, the others' c is set to 0 (not -inf, as HF does)
//           the k experts with the largest c
//   weights w_j = s_{e_j}             the unbiased scores of the chosen experts
//           w /= (sum_j w_j + eps)    when renormalising (eps = 1e-20 for sigmoid scoring, 0 for softmax)
//           w *= scale                the routed scaling factor
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, E experts per layer, k experts chosen per token, G groups
// of experts, Gk groups kept.
import type { GateResult } from "./gate.js";

export interface GateSpec {
  readonly scoring: "softmax" | "sigmoid";
  /** Renormalise the k chosen weights to sum to 1 (norm_topk_prob). */
  readonly normalize: boolean;
  /** G expert groups (n_group); 1 means no group limit. */
  readonly groups: number;
  /** Gk groups kept per token (topk_group). */
  readonly topKGroups: number;
  /** Multiplies the final weights (routed_scaling_factor). */
  readonly scale: number;
  /** The layer has a selection-only correction bias [E] (e_score_correction_bias). */
  readonly selectionBias: boolean;
}

/** Mixtral's gate: softmax, top-k, renormalise. */
export const MIXTRAL_GATE: GateSpec = Object.freeze({
  scoring: "softmax",
  normalize: true,
  groups: 1,
  topKGroups: 1,
  scale: 1,
  selectionBias: false,
});

/**
 * Routes `logits` [N, E] by `spec`; `bias` [E] is the selection bias when the spec has one. Experts come
 * highest choice score first; ties go to the lower expert id. `probs` holds the scores s [N, E].
 */
export function route(logits: Float32Array, numExperts: number, k: number, spec: GateSpec, bias?: Float32Array): GateResult {
  const E = numExperts;
  const N = logits.length / E;
  if (!Number.isInteger(N)) throw new RangeError(`gate: logits length ${logits.length} is not a multiple of E=${E}`);
  if (k < 1 || k > E) throw new RangeError(`gate: k=${k} must be in 1..${E}`);
  const { groups: G, topKGroups: Gk } = spec;
  if (G < 1 || E % G || Gk < 1 || Gk > G) throw new RangeError(`gate: ${G} groups of E=${E} experts keeping ${Gk} is not a valid grouping`);
  if (spec.selectionBias && bias?.length !== E)
    throw new RangeError(`gate: the spec needs a selection bias of E=${E} values, got ${bias?.length ?? "none"}`);
  const experts = new Int32Array(N * k);
  const weights = new Float32Array(N * k);
  const probs = new Float32Array(N * E);
  const choice = new Float64Array(E);
  const groupScore = new Float64Array(G);
  const keptGroup = new Uint8Array(G);
  const taken = new Uint8Array(E);
  const perGroup = E / G;
  for (let t = 0; t < N; t++) {
    const row = t * E;
    const s = probs.subarray(row, row + E);
    if (spec.scoring === "softmax") {
      let max = -Infinity;
      for (let e = 0; e < E; e++) max = Math.max(max, logits[row + e]);
      let sum = 0;
      for (let e = 0; e < E; e++) sum += s[e] = Math.exp(logits[row + e] - max);
      for (let e = 0; e < E; e++) s[e] = s[e] / sum;
    } else {
      for (let e = 0; e < E; e++) s[e] = 1 / (1 + Math.exp(-logits[row + e]));
    }
    for (let e = 0; e < E; e++) choice[e] = spec.selectionBias ? Math.fround(s[e] + bias![e]) : s[e];
    if (G > 1) {
      for (let g = 0; g < G; g++) {
        let first = -Infinity;
        let second = -Infinity;
        for (let e = g * perGroup; e < (g + 1) * perGroup; e++) {
          if (choice[e] > first) [first, second] = [choice[e], first];
          else if (choice[e] > second) second = choice[e];
        }
        groupScore[g] = perGroup > 1 ? first + second : first;
      }
      keptGroup.fill(0);
      for (let j = 0; j < Gk; j++) {
        let best = -1;
        for (let g = 0; g < G; g++) if (!keptGroup[g] && (best < 0 || groupScore[g] > groupScore[best])) best = g;
        keptGroup[best] = 1;
      }
      for (let e = 0; e < E; e++) if (!keptGroup[Math.floor(e / perGroup)]) choice[e] = 0;
    }
    taken.fill(0);
    let chosenSum = 0;
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let e = 0; e < E; e++) if (!taken[e] && (best < 0 || choice[e] > choice[best])) best = e;
      taken[best] = 1;
      experts[t * k + j] = best;
      chosenSum += s[best];
    }
    const denominator = spec.normalize ? chosenSum + (spec.scoring === "sigmoid" ? 1e-20 : 0) : 1;
    for (let j = 0; j < k; j++) weights[t * k + j] = (s[experts[t * k + j]] / denominator) * spec.scale;
  }
  return { experts, weights, probs };
}
