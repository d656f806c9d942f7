// Training the MLP routing-path predictor (predictor-mlp.ts) on routing traces: binary cross-entropy of
// p[n, l, e] against y[n, l, e] = 1 when expert e is in token n's true top-k at layer l, averaged over the
// L*E outputs and the tokens; Adam on mini-batches.
//
// The input of a token is its id and its position bucket only, so tokens with the same (id, bucket) are one
// example: it is trained once per epoch with weight c (its count) against the soft target ȳ (the share of
// its occurrences that used each expert). Σ c·BCE(p, ȳ) equals the sum of BCE over the occurrences up to a
// constant, so the objective is that of token-level training, and an epoch costs U examples instead of N.
//
// The per-token logit correction fitted after training is in predictor-token-bias.ts.
//
// Letters (glossary: docs/ARCHITECTURE.md): N trace tokens, U distinct (token id, position bucket) examples, V
// vocabulary, D embedding size, P position buckets, H hidden units, B examples per mini-batch (the predictor's
// meanings), L MoE layers, E experts per layer, O = L*E, k experts per token.
import type { ExpertChoices } from "./predictor-metrics.js";
import { bucketStart, checkMlp, mlpHidden, mlpLogits, positionBucket, type MlpPredictor } from "./predictor-mlp.js";
import { seededRandom as seeded } from "./seeded-random.js";

export interface RoutingExamples {
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  readonly topK: number; // k
  readonly positionBuckets: number; // P
  /** Trace tokens counted. */
  readonly tokens: number; // N
  readonly tokenIds: Int32Array; // [U]
  readonly buckets: Int32Array; // [U]
  readonly counts: Float32Array; // [U]
  /** [U, O]: ȳ, the share of the example's occurrences whose top-k at l includes e. */
  readonly targets: Float32Array;
}

export type TraceWithTokens = ExpertChoices & { readonly tokenIds: Int32Array; readonly positions: Int32Array };

/** The distinct (token id, position bucket) examples of `traces`, which must agree on L, E and k. */
export function routingExamples(traces: readonly TraceWithTokens[], positionBuckets: number): RoutingExamples {
  const first = traces[0];
  if (first === undefined) throw new RangeError("routingExamples: no traces");
  const { numLayers: L, numExperts: E, topK: k } = first;
  const O = L * E;
  const index = new Map<number, number>(); // id * P + bucket -> example
  const ids: number[] = [];
  const buckets: number[] = [];
  const counts: number[] = [];
  const sums: Float64Array[] = [];
  let tokens = 0;
  for (const [i, t] of traces.entries()) {
    if (t.numLayers !== L || t.numExperts !== E || t.topK !== k) {
      throw new RangeError(
        `routingExamples: trace ${i} has L=${t.numLayers} E=${t.numExperts} k=${t.topK}, trace 0 has L=${L} E=${E} k=${k}`,
      );
    }
    for (let n = 0; n < t.tokens; n++) {
      const id = t.tokenIds[n];
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`routingExamples: trace ${i}: token id ${id} is negative`);
      const bucket = positionBucket(t.positions[n], positionBuckets);
      const key = id * positionBuckets + bucket;
      let u = index.get(key);
      if (u === undefined) {
        u = ids.length;
        index.set(key, u);
        ids.push(id);
        buckets.push(bucket);
        counts.push(0);
        sums.push(new Float64Array(O));
      }
      counts[u]++;
      for (let l = 0; l < L; l++) {
        for (let j = 0; j < k; j++) {
          const e = t.experts[(n * L + l) * k + j];
          if (e >= E) throw new RangeError(`routingExamples: trace ${i}: expert id ${e} out of range (E=${E})`);
          sums[u][l * E + e]++;
        }
      }
    }
    tokens += t.tokens;
  }
  if (tokens === 0) throw new RangeError("routingExamples: the traces hold no token");
  const U = ids.length;
  const targets = new Float32Array(U * O);
  for (let u = 0; u < U; u++) for (let o = 0; o < O; o++) targets[u * O + o] = sums[u][o] / counts[u];
  return {
    numLayers: L,
    numExperts: E,
    topK: k,
    positionBuckets,
    tokens,
    tokenIds: Int32Array.from(ids),
    buckets: Int32Array.from(buckets),
    counts: Float32Array.from(counts),
    targets,
  };
}

export interface TrainOptions {
  readonly hidden?: number; // H, default 256
  readonly epochs?: number; // default 10
  readonly batch?: number; // B, default 256
  readonly learningRate?: number; // Adam step size, default 2e-3
  readonly seed?: number; // initial weights and example order, default 1
  /** Called after each epoch with the weighted mean BCE of that epoch's mini-batches (before their updates). */
  readonly onEpoch?: (epoch: number, loss: number, model: MlpPredictor) => void;
}

/** The model's token embedding [V, D] that the predictor reads (frozen). */
export interface TokenEmbedding {
  readonly vocab: number; // V
  readonly dim: number; // D
  readonly data: Float32Array; // [V, D]
}

/** Trains an MLP predictor on `examples`; returns it with the loss of every epoch. */
export function trainMlp(
  embedding: TokenEmbedding,
  examples: RoutingExamples,
  options: TrainOptions = {},
): { model: MlpPredictor; losses: number[] } {
  const H = options.hidden ?? 256;
  const epochs = options.epochs ?? 10;
  const B = options.batch ?? 256;
  const lr = options.learningRate ?? 2e-3;
  for (const [name, v] of [
    ["hidden", H],
    ["epochs", epochs],
    ["batch", B],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`trainMlp: ${name} must be a positive integer, got ${v}`);
  }
  if (!(lr > 0)) throw new RangeError(`trainMlp: learningRate must be positive, got ${lr}`);
  const { vocab: V, dim: D } = embedding;
  if (embedding.data.length !== V * D)
    throw new RangeError(`trainMlp: embedding has ${embedding.data.length} values, expected V*D = ${V}*${D}`);
  const { numLayers: L, numExperts: E, positionBuckets: P } = examples;
  const O = L * E;
  const U = examples.tokenIds.length;
  for (const id of examples.tokenIds)
    if (id >= V) throw new RangeError(`trainMlp: token id ${id} is outside the embedding's vocabulary [0, ${V})`);

  const random = seeded(options.seed ?? 1);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  // He initialisation for W1; small W2; b2 at the log-odds of the mean target (the frequency prior).
  const w1 = Float32Array.from({ length: (D + P) * H }, () => gauss() * Math.sqrt(2 / (D + 1)));
  const w2 = Float32Array.from({ length: H * O }, () => (gauss() * 0.1) / Math.sqrt(H));
  const b1 = new Float32Array(H);
  const b2 = new Float32Array(O);
  const total = examples.counts.reduce((a, c) => a + c, 0);
  for (let o = 0; o < O; o++) {
    let s = 0;
    for (let u = 0; u < U; u++) s += examples.counts[u] * examples.targets[u * O + o];
    const q = Math.min(1 - 1e-4, Math.max(1e-4, s / total));
    b2[o] = Math.log(q / (1 - q));
  }
  const model: MlpPredictor = {
    numLayers: L,
    numExperts: E,
    topK: examples.topK,
    vocab: V,
    dim: D,
    positionBuckets: P,
    hidden: H,
    embedding: embedding.data,
    w1,
    b1,
    w2,
    b2,
    tokenBias: new Float32Array(V * O), // 0 while the MLP trains; fitted after it (fitTokenBias)
  };
  checkMlp(model);
  const params = [w1, b1, w2, b2];
  const grads = params.map((p) => new Float32Array(p.length));
  const [gw1, gb1, gw2, gb2] = grads;
  const adam = params.map((p) => ({ m: new Float32Array(p.length), v: new Float32Array(p.length) }));
  let t = 0;

  const a = new Float32Array(B * H); // [B, H] hidden activations
  const z = new Float64Array(O);
  const dz = new Float32Array(O);
  const da = new Float32Array(H);
  const order = Int32Array.from({ length: U }, (_, u) => u);
  const meanCount = total / U;
  const losses: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    shuffle(order, random);
    let lossSum = 0;
    for (let start = 0; start < U; start += B) {
      const batch = order.subarray(start, Math.min(U, start + B));
      for (const g of grads) g.fill(0);
      // Gradient of Σ_u (c_u / c̄) · mean_o BCE_u,o over the batch, divided by the batch size: an
      // unbiased estimate of the gradient of the mean token-level BCE.
      const scale = 1 / (batch.length * meanCount * O);
      for (let i = 0; i < batch.length; i++) {
        const u = batch[i];
        const id = examples.tokenIds[u];
        const bucket = examples.buckets[u];
        const ai = a.subarray(i * H, (i + 1) * H);
        mlpHidden(model, id, bucketStart(bucket), ai);
        const c = examples.counts[u];
        logits(ai, z);
        for (let o = 0; o < O; o++) {
          const p = 1 / (1 + Math.exp(-z[o]));
          const y = examples.targets[u * O + o];
          lossSum += c * bce(z[o], y);
          dz[o] = c * scale * (p - y);
          gb2[o] += dz[o];
        }
        da.fill(0);
        for (let h = 0; h < H; h++) {
          const x = ai[h];
          const row = h * O;
          let s = 0;
          for (let o = 0; o < O; o++) {
            gw2[row + o] += x * dz[o];
            s += w2[row + o] * dz[o];
          }
          da[h] = x > 0 ? s : 0;
        }
        const e = id * D;
        for (let d = 0; d < D; d++) {
          const x = embedding.data[e + d];
          const row = d * H;
          for (let h = 0; h < H; h++) gw1[row + h] += x * da[h];
        }
        const row = (D + bucket) * H;
        for (let h = 0; h < H; h++) {
          gw1[row + h] += da[h];
          gb1[h] += da[h];
        }
      }
      t++;
      params.forEach((p, j) => {
        adamStep(p, grads[j], adam[j], lr, t);
      });
    }
    const loss = lossSum / (total * O);
    losses.push(loss);
    options.onEpoch?.(epoch, loss, model);
  }
  return { model, losses };

  function logits(ai: Float32Array, out: Float64Array): void {
    for (let o = 0; o < O; o++) out[o] = b2[o];
    for (let h = 0; h < H; h++) {
      const x = ai[h];
      if (x === 0) continue;
      const row = h * O;
      for (let o = 0; o < O; o++) out[o] += x * w2[row + o];
    }
  }
}

/** Weighted mean BCE of `model` (token bias included) on `examples`: the token-level mean BCE over outputs. */
export function mlpLoss(model: MlpPredictor, examples: RoutingExamples): number {
  const O = checkMlp(model);
  const a = new Float32Array(model.hidden);
  const z = new Float64Array(O);
  let sum = 0;
  let total = 0;
  for (let u = 0; u < examples.tokenIds.length; u++) {
    const id = examples.tokenIds[u];
    mlpLogits(model, id, bucketStart(examples.buckets[u]), a, z);
    const c = examples.counts[u];
    total += c;
    for (let o = 0; o < O; o++) sum += c * bce(z[o] + model.tokenBias[id * O + o], examples.targets[u * O + o]);
  }
  return sum / (total * O);
}

/** BCE of sigmoid(z) against y, stable: max(z, 0) - z·y + log(1 + e^-|z|). */
function bce(z: number, y: number): number {
  return Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;

function adamStep(p: Float32Array, g: Float32Array, s: { m: Float32Array; v: Float32Array }, lr: number, t: number): void {
  const c1 = 1 - BETA1 ** t;
  const c2 = 1 - BETA2 ** t;
  for (let i = 0; i < p.length; i++) {
    const m = (s.m[i] = BETA1 * s.m[i] + (1 - BETA1) * g[i]);
    const v = (s.v[i] = BETA2 * s.v[i] + (1 - BETA2) * g[i] * g[i]);
    p[i] -= (lr * (m / c1)) / (Math.sqrt(v / c2) + EPS);
  }
}

function shuffle(a: Int32Array, random: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const x = a[i];
    a[i] = a[j];
    a[j] = x;
  }
}
