// The trained routing-path predictor: a small MLP over the model's own token embedding and a bucket of the
// token's position, giving every MoE layer's expert probabilities in one pass, before layer 0 runs.
//
//   x = [embedding[token] ; onehot(bucket(position))]        [D + P]
//   a = relu(x · W1 + b1)                                     [H]
//   p = sigmoid(a · W2 + b2 + tokenBias[token])               [L*E], read as [L, E]
//
// bucket(0) = 0, bucket(p) = min(P - 1, 1 + floor(log2 p)) for p >= 1: 0 | 1 | 2-3 | 4-7 | ... | >= 2^(P-2).
// The embedding is the model's (frozen); W1, b1, W2, b2 are trained (predictor-train.ts), then tokenBias,
// a per-token correction of the logits that the MLP cannot express, is fitted with a penalty that keeps it
// near 0 for tokens seen rarely (fitTokenBias): the MLP generalises over the embedding, the bias remembers.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, V vocabulary, D embedding size, P position buckets, H
// hidden units (the predictor's meanings), L MoE layers, E experts per layer, O = L*E outputs, k experts per
// token of the routed model.

export interface MlpPredictor {
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  readonly topK: number; // k
  readonly vocab: number; // V
  readonly dim: number; // D
  readonly positionBuckets: number; // P
  readonly hidden: number; // H
  readonly embedding: Float32Array; // [V, D]
  readonly w1: Float32Array; // [D + P, H]
  readonly b1: Float32Array; // [H]
  readonly w2: Float32Array; // [H, O]
  readonly b2: Float32Array; // [O]
  readonly tokenBias: Float32Array; // [V, O]
}

export const DEFAULT_POSITION_BUCKETS = 10;

/** The position bucket of `position` (see the top of this file). */
export function positionBucket(position: number, buckets: number): number {
  if (position <= 0) return 0;
  return Math.min(buckets - 1, 1 + Math.floor(Math.log2(position)));
}

/** The first position of bucket `bucket` (a position that falls in it). */
export function bucketStart(bucket: number): number {
  return bucket === 0 ? 0 : 2 ** (bucket - 1);
}

/** Checks the shapes of `m` and returns O = L*E. */
export function checkMlp(m: MlpPredictor): number {
  const { vocab: V, dim: D, positionBuckets: P, hidden: H } = m;
  const O = m.numLayers * m.numExperts;
  const want: [string, Float32Array, number][] = [
    ["embedding", m.embedding, V * D],
    ["w1", m.w1, (D + P) * H],
    ["b1", m.b1, H],
    ["w2", m.w2, H * O],
    ["b2", m.b2, O],
    ["tokenBias", m.tokenBias, V * O],
  ];
  for (const [name, a, n] of want) {
    if (a.length !== n)
      throw new RangeError(`mlp predictor: ${name} has ${a.length} values, expected ${n} (V=${V} D=${D} P=${P} H=${H} O=${O})`);
  }
  if (P < 1) throw new RangeError(`mlp predictor: positionBuckets must be at least 1, got ${P}`);
  return O;
}

/** The hidden activations [H] of one token (x · W1 + b1, then relu), written into `out`. */
export function mlpHidden(m: MlpPredictor, tokenId: number, position: number, out: Float32Array): void {
  const { dim: D, hidden: H, w1 } = m;
  out.set(m.b1);
  const e = tokenId * D;
  for (let d = 0; d < D; d++) {
    const x = m.embedding[e + d];
    const row = d * H;
    for (let h = 0; h < H; h++) out[h] += x * w1[row + h];
  }
  const row = (D + positionBucket(position, m.positionBuckets)) * H;
  for (let h = 0; h < H; h++) {
    const z = out[h] + w1[row + h];
    out[h] = z > 0 ? z : 0;
  }
}

/** Logits [O] of one token without its token bias (a · W2 + b2), written into `out`; `a` [H] is scratch. */
export function mlpLogits(m: MlpPredictor, tokenId: number, position: number, a: Float32Array, out: Float64Array): void {
  const { hidden: H, w2, b2 } = m;
  const O = b2.length;
  mlpHidden(m, tokenId, position, a);
  for (let o = 0; o < O; o++) out[o] = b2[o];
  for (let h = 0; h < H; h++) {
    const x = a[h];
    if (x === 0) continue;
    const row = h * O;
    for (let o = 0; o < O; o++) out[o] += x * w2[row + o];
  }
}

/** Probabilities [N, L, E] for tokens `tokenIds` [N] at `positions` [N]. */
export function mlpForward(m: MlpPredictor, tokenIds: ArrayLike<number>, positions: ArrayLike<number>): Float32Array {
  const O = checkMlp(m);
  const N = tokenIds.length;
  if (positions.length !== N) throw new RangeError(`mlpForward: ${N} token ids but ${positions.length} positions`);
  const { hidden: H, w2, b2 } = m;
  const out = new Float32Array(N * O); // [N, L, E]
  const a = new Float32Array(H);
  const z = new Float64Array(O);
  for (let n = 0; n < N; n++) {
    const id = tokenIds[n];
    if (!Number.isInteger(id) || id < 0 || id >= m.vocab)
      throw new RangeError(`mlpForward: token id ${id} is outside the vocabulary [0, ${m.vocab})`);
    mlpHidden(m, id, positions[n], a);
    for (let o = 0; o < O; o++) z[o] = b2[o] + m.tokenBias[id * O + o];
    for (let h = 0; h < H; h++) {
      const x = a[h];
      if (x === 0) continue;
      const row = h * O;
      for (let o = 0; o < O; o++) z[o] += x * w2[row + o];
    }
    for (let o = 0; o < O; o++) out[n * O + o] = 1 / (1 + Math.exp(-z[o]));
  }
  return out;
}
