// MC-MoE's online dynamic pruning (ODP, arXiv 2410.06270): a token whose second expert weighs little
// against its first, w2 < β_l · w1, skips the second expert (its weight goes to the first: the kept
// weights are renormalised). Important tokens are protected: in a step with several tokens of a sequence
// (prefill), the top `protectShare` of them by importance keep all their experts. MC-MoE describes the
// importance as an attention score times the L1 norm of the token's hidden state (the MoE block's input).
// Its reference code (models/wrapper.py) takes the attention score as the row sums of the head-averaged
// attention map divided by arange(S, 0, -1): a causal softmax row sums to 1, so that score is exactly
// 1 / (S - i) for token i of S, whatever the attention probabilities (the column sums, attention received
// per query that sees the token, would need them; the fused attention graph does not expose them).
// ProtectScore "reference" is that formula, L1 · 1 / (n - i) over a sequence's n tokens in the step;
// "l1" is the L1 norm alone (checkpoints written before protect_score existed).
// Protection is decided per sequence, so a sequence routes the same whether or not it shares its step.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, k experts per token, D hidden size, L layers.

/** A skipped expert in a routing's experts [N, k]: planDispatch sends it nowhere. */
export const SKIPPED_EXPERT = -1;

export interface DynamicPruning {
  /** [L] per-layer thresholds β_l on w2 / w1. */
  beta: readonly number[];
  /** Share of each sequence's tokens in a multi-token step that keep all experts (MC-MoE's τ_h). */
  protectShare: number;
  /** How tokens are ranked for protection; "l1" when absent. */
  protectScore?: ProtectScore;
}

export type ProtectScore = "l1" | "reference";
export const PROTECT_SCORES: readonly ProtectScore[] = ["l1", "reference"];

/**
 * Marks protected tokens: for each sequence (counts[b] consecutive rows of x [N, D]) with more than one
 * token, the ceil(share · n) rows of largest score (L1 norm, times 1 / (n - i) for "reference").
 */
export function protectedTokens(
  x: Float32Array,
  D: number,
  counts: readonly number[],
  share: number,
  score: ProtectScore = "l1",
): Uint8Array {
  const N = x.length / D;
  const out = new Uint8Array(N);
  let start = 0;
  for (const n of counts) {
    if (n > 1 && share > 0) {
      const norms = Array.from({ length: n }, (_, i) => {
        let s = 0;
        for (let d = 0; d < D; d++) s += Math.abs(x[(start + i) * D + d]);
        return [score === "reference" ? s / (n - i) : s, i] as const;
      });
      norms.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      for (let j = 0; j < Math.ceil(share * n); j++) out[start + norms[j][1]] = 1;
    }
    start += n;
  }
  return out;
}

/**
 * Applies ODP to one layer's routing in place (experts/weights [N, k], highest weight first): experts
 * 2..k of an unprotected token below β times its first expert's weight become SKIPPED_EXPERT with weight
 * 0, the kept weights are renormalised. Returns the number of skipped experts.
 */
export function pruneRouting(experts: Int32Array, weights: Float32Array, k: number, beta: number, protect: Uint8Array | null): number {
  const N = experts.length / k;
  let skipped = 0;
  for (let t = 0; t < N; t++) {
    if (protect?.[t]) continue;
    const first = weights[t * k];
    let kept = first;
    let dropped = 0;
    for (let j = 1; j < k; j++) {
      const i = t * k + j;
      if (weights[i] < beta * first) {
        experts[i] = SKIPPED_EXPERT;
        weights[i] = 0;
        dropped++;
      } else {
        kept += weights[i];
      }
    }
    if (dropped === 0) continue;
    skipped += dropped;
    for (let j = 0; j < k; j++) weights[t * k + j] /= kept;
  }
  return skipped;
}

/** β such that a share `target` of the ratios w2 / w1 fall below it (the calibration of ODP). */
export function calibrateBeta(ratios: Float32Array | number[], target: number): number {
  if (!(target >= 0 && target < 1)) throw new RangeError(`ODP target share must be in [0, 1), got ${target}`);
  if (ratios.length === 0 || target === 0) return 0;
  const s = Float64Array.from(ratios).sort();
  const i = Math.floor(target * s.length);
  return i === 0 ? s[0] : (s[i - 1] + s[i]) / 2;
}
