// The inputs of one step for a batch of sequences of different lengths, shared by both forward paths:
// embeddings of the new tokens left-padded to S, positions, the additive attention mask, the rows that
// hold real tokens and the rows that get logits; and the per-layer KV in and out of the sequences' caches.
//
// Letters: B sequences, S new tokens (max over the batch), P past tokens (max), T = P + S, D hidden,
// K kv heads, Dh key head dim, Dv value head dim, N valid tokens, R rows that get logits.
import type { MoeConfig } from "./config.js";
import type { KvCache } from "./kv-cache.js";

export interface BatchInput {
  cache: KvCache;
  tokens: readonly number[];
}

export interface StepBatch {
  B: number;
  S: number;
  P: number;
  T: number;
  x: Float32Array; // [B, S, D]
  pos: BigInt64Array; // [B, S]
  mask: Float32Array; // [B, 1, S, T]
  /** Rows b * S + s that hold real tokens, in batch order (sequence, then position): N of them. */
  rows: Int32Array;
  /** Rows that get logits: each sequence's last, or all its tokens. */
  headRows: Int32Array;
}

export function prepareBatch(inputs: readonly BatchInput[], embed: Float32Array, c: MoeConfig, allLogits: boolean): StepBatch {
  const D = c.hiddenSize;
  const B = inputs.length;
  let S = 0;
  let P = 0;
  for (const i of inputs) {
    S = Math.max(S, i.tokens.length);
    P = Math.max(P, i.cache.length);
  }
  const T = P + S;
  const x = new Float32Array(B * S * D);
  const pos = new BigInt64Array(B * S);
  const mask = new Float32Array(B * S * T).fill(-Infinity);
  const rows: number[] = [];
  const headRows: number[] = [];
  inputs.forEach(({ cache, tokens }, b) => {
    const n = tokens.length;
    const past = cache.length;
    for (let s = 0; s < S; s++) {
      const row = b * S + s;
      const maskRow = row * T;
      const j = s - (S - n); // index among this sequence's new tokens, < 0 for padding
      if (j < 0) {
        mask[maskRow + P + s] = 0; // padding attends to itself only, to keep softmax finite
        continue;
      }
      rows.push(row);
      if (allLogits || s === S - 1) headRows.push(row);
      x.set(embed.subarray(tokens[j] * D, tokens[j] * D + D), row * D);
      pos[row] = BigInt(past + j);
      for (let t = P - past; t < P; t++) mask[maskRow + t] = 0;
      for (let t = S - n; t <= s; t++) mask[maskRow + P + t] = 0;
    }
  });
  return { B, S, P, T, x, pos, mask, rows: Int32Array.from(rows), headRows: Int32Array.from(headRows) };
}

/** Decoder layer `layer`'s past keys [B, K, P, Dh] and values [B, K, P, Dv] of the batch, right-aligned (left padding). */
export function pastKv(inputs: readonly BatchInput[], layer: number, batch: StepBatch, c: MoeConfig): { k: Float32Array; v: Float32Array } {
  const k = new Float32Array(batch.B * c.numKvHeads * batch.P * c.headDim);
  const v = new Float32Array(batch.B * c.numKvHeads * batch.P * c.valueHeadDim);
  if (batch.P > 0) inputs.forEach(({ cache }, b) => cache.copyInto(layer, k, v, b, batch.P));
  return { k, v };
}

/** Appends decoder layer `layer`'s new keys and values to each sequence's cache (committed after the last layer). */
export function appendKv(inputs: readonly BatchInput[], layer: number, batch: StepBatch, kNew: Float32Array, vNew: Float32Array): void {
  inputs.forEach(({ cache, tokens }, b) => cache.append(layer, kNew, vNew, b, batch.S, tokens.length));
}
