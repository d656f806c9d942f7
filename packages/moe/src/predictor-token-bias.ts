// The token bias of the MLP predictor (predictor-mlp.ts): a per-token correction of the L*E logits, fitted
// after the MLP with the MLP fixed. The MLP generalises over the embedding (rare and unseen tokens); the
// bias lets a frequent token keep the routing it was seen to use, where the MLP's smooth function misses it.
//
// Letters (glossary: docs/ARCHITECTURE.md): U distinct (token id, position bucket) examples, V vocabulary, L
// MoE layers, E experts per layer, O = L*E, c an example's count, ȳ its target shares, z the MLP's logit, b the
// bias, λ the penalty.
import { bucketStart, checkMlp, mlpLogits, type MlpPredictor } from "./predictor-mlp.js";
import type { RoutingExamples } from "./predictor-train.js";

/** Largest Newton step on one bias: logistic Newton steps can overshoot from far away. */
const MAX_NEWTON_STEP = 1;

/**
 * Fits `model.tokenBias` (in place) with the MLP fixed: for each token v and output o, the b minimising
 * Σ_u c_u·BCE(σ(z_u,o + b), ȳ_u,o) + λ·b²/2 over the examples u of token v (a 1-D convex problem, solved
 * by Newton steps). λ acts as a pseudo-count: a token seen a few times keeps b near 0 (the MLP decides), a
 * frequent token gets its own routing.
 */
export function fitTokenBias(model: MlpPredictor, examples: RoutingExamples, penalty: number, iterations = 16): void {
  const O = checkMlp(model);
  if (!(penalty > 0)) throw new RangeError(`fitTokenBias: penalty must be positive, got ${penalty}`);
  const U = examples.tokenIds.length;
  const z = new Float64Array(U * O); // [U, O] MLP logits without bias
  const a = new Float32Array(model.hidden);
  const row = new Float64Array(O);
  for (let u = 0; u < U; u++) {
    mlpLogits(model, examples.tokenIds[u], bucketStart(examples.buckets[u]), a, row);
    z.set(row, u * O);
  }
  const byToken = new Map<number, number[]>();
  for (let u = 0; u < U; u++) {
    const id = examples.tokenIds[u];
    const list = byToken.get(id);
    if (list === undefined) byToken.set(id, [u]);
    else list.push(u);
  }
  const bias = model.tokenBias;
  bias.fill(0);
  for (const [id, us] of byToken) {
    for (let o = 0; o < O; o++) {
      let b = 0;
      for (let it = 0; it < iterations; it++) {
        let g = penalty * b;
        let h = penalty;
        for (const u of us) {
          const p = 1 / (1 + Math.exp(-(z[u * O + o] + b)));
          const c = examples.counts[u];
          g += c * (p - examples.targets[u * O + o]);
          h += c * p * (1 - p);
        }
        b -= Math.max(-MAX_NEWTON_STEP, Math.min(MAX_NEWTON_STEP, g / h));
      }
      bias[id * O + o] = b;
    }
  }
}
