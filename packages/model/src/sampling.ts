// Next-token sampling: greedy at temperature 0, otherwise softmax(logits / temperature) restricted to the
// smallest set of tokens whose probability reaches top_p (nucleus), drawn with a seeded generator.
import { seededRandom } from "@expertmesh/moe";

export { seededRandom };

export interface SamplingOptions {
  temperature: number;
  topP: number;
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

export function sampleToken(logits: Float32Array, opts: SamplingOptions, random: () => number): number {
  if (opts.temperature === 0) return argmax(logits);
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const probs = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += probs[i] = Math.exp((logits[i] - max) / opts.temperature);
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  let kept = 0;
  let mass = 0;
  while (kept < order.length && (kept === 0 || mass < opts.topP * sum)) mass += probs[order[kept++]];
  let r = random() * mass;
  for (let i = 0; i < kept; i++) {
    r -= probs[order[i]];
    if (r <= 0) return order[i];
  }
  return order[kept - 1];
}
