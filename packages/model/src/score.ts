// Mean negative log-likelihood per token of a token sequence, evaluated in consecutive windows of at most
// `context` predicted tokens that share one token at each seam (window i covers ids[i*C .. i*C + C]).
// The training script's reference (`chunked_nll` in models/sotu-moe/train.py) uses the same rule.
import { InvalidInputError } from "./errors.js";
import type { MoeRuntime } from "./runtime.js";

export interface ScoreResult {
  tokens: number;
  meanNll: number;
  perplexity: number;
}

export async function score(rt: MoeRuntime, ids: readonly number[], context = rt.config.maxPositions): Promise<ScoreResult> {
  if (ids.length < 2) throw new InvalidInputError("text", `needs at least 2 tokens to score, got ${ids.length}`);
  const V = rt.config.vocabSize;
  let total = 0;
  let count = 0;
  for (let start = 0; start + 1 < ids.length; start += context) {
    const window = ids.slice(start, start + context + 1);
    const [logits] = await rt.step([{ sequence: rt.newSequence(), tokens: window.slice(0, -1) }], { allLogits: true });
    for (let i = 0; i + 1 < window.length; i++) {
      const row = logits.subarray(i * V, (i + 1) * V);
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      total += max + Math.log(sum) - row[window[i + 1]];
      count++;
    }
  }
  const meanNll = total / count;
  return { tokens: count, meanNll, perplexity: Math.exp(meanNll) };
}
