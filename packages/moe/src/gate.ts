// The MoE gate (Mixtral convention): softmax over the E router logits in fp32, top-k, renormalise the
// k chosen probabilities to sum to 1.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, E experts per layer, k experts chosen per token.

export interface GateResult {
  /** [N, k] chosen expert ids, highest probability first. */
  experts: Int32Array;
  /** [N, k] renormalised weights of the chosen experts. */
  weights: Float32Array;
  /** [N, E] softmax probabilities before top-k (for statistics and traces). */
  probs: Float32Array;
}

/** Applies the gate to `logits` [N, E]. Ties go to the lower expert id, as in torch.topk on CPU. */
export function gate(logits: Float32Array, numExperts: number, k: number): GateResult {
  const E = numExperts;
  const N = logits.length / E;
  if (!Number.isInteger(N)) throw new RangeError(`gate: logits length ${logits.length} is not a multiple of E=${E}`);
  if (k < 1 || k > E) throw new RangeError(`gate: k=${k} must be in 1..${E}`);
  const experts = new Int32Array(N * k);
  const weights = new Float32Array(N * k);
  const probs = new Float32Array(N * E);
  for (let t = 0; t < N; t++) {
    const row = t * E;
    let max = -Infinity;
    for (let e = 0; e < E; e++) max = Math.max(max, logits[row + e]);
    let sum = 0;
    for (let e = 0; e < E; e++) sum += probs[row + e] = Math.exp(logits[row + e] - max);
    for (let e = 0; e < E; e++) probs[row + e] = probs[row + e] / sum;
    let chosenSum = 0;
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let e = 0; e < E; e++) {
        if (isChosen(experts, t * k, j, e)) continue;
        if (best < 0 || probs[row + e] > probs[row + best]) best = e;
      }
      experts[t * k + j] = best;
      chosenSum += probs[row + best];
    }
    for (let j = 0; j < k; j++) weights[t * k + j] = probs[row + experts[t * k + j]] / chosenSum;
  }
  return { experts, weights, probs };
}

function isChosen(experts: Int32Array, start: number, count: number, e: number): boolean {
  for (let j = 0; j < count; j++) if (experts[start + j] === e) return true;
  return false;
}
