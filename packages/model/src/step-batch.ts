// The inputs of one step for a batch of sequences of different lengths, shared by both forward paths:
// embeddings of the new tokens left-padded to S, positions, the additive attention mask, the rows that
// hold real tokens and the rows that get logits; and the per-layer KV in and out of the sequences' caches.
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens (max over the batch), P past tokens
// (max), T = P + S keys, D hidden, K kv heads, Dh key head dim, Dv value head dim, N valid tokens, R rows that
// get logits (the forward pass's meaning).
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

/**
 * Decoder layer `layer`'s past keys [B, K, P, Dh] and values [B, K, P, Dv] of the batch, right-aligned
 * (left padding, zeros). With `scratch`, in buffers reused from step to step instead of fresh ones.
 */
export function pastKv(
  inputs: readonly BatchInput[],
  layer: number,
  batch: StepBatch,
  c: MoeConfig,
  scratch?: KvScratch,
): { k: Float32Array; v: Float32Array } {
  const { B, P } = batch;
  const K = c.numKvHeads;
  const kSize = B * K * P * c.headDim;
  const vSize = B * K * P * c.valueHeadDim;
  const k = scratch ? scratch.buffer(2 * layer, kSize) : new Float32Array(kSize);
  const v = scratch ? scratch.buffer(2 * layer + 1, vSize) : new Float32Array(vSize);
  if (P === 0) return { k, v };
  inputs.forEach(({ cache }, b) => {
    if (scratch && cache.length < P) {
      for (let h = 0; h < K; h++) {
        const row = (b * K + h) * P;
        k.fill(0, row * c.headDim, (row + P - cache.length) * c.headDim);
        v.fill(0, row * c.valueHeadDim, (row + P - cache.length) * c.valueHeadDim);
      }
    }
    cache.copyInto(layer, k, v, b, P);
  });
  return { k, v };
}

/**
 * Buffers for the past KV of one step, kept for the next (allocating and zeroing them was a tenth of a
 * decode step). One step at a time: `acquire` returns undefined while a step holds them, and that step's
 * neighbour then allocates its own.
 */
export class KvScratch {
  private buffers: Float32Array[] = [];
  private busy = false;

  acquire(): KvScratch | undefined {
    if (this.busy) return undefined;
    this.busy = true;
    return this;
  }

  release(): void {
    this.busy = false;
  }

  /** The first `size` values of buffer `i`, grown (by doubling) when too small. */
  buffer(i: number, size: number): Float32Array {
    let b = this.buffers[i];
    if (!b || b.length < size) {
      let n = Math.max(1024, b?.length ?? 0);
      while (n < size) n *= 2;
      this.buffers[i] = b = new Float32Array(n);
    }
    return b.subarray(0, size);
  }
}

/** Appends decoder layer `layer`'s new keys and values to each sequence's cache (committed after the last layer). */
export function appendKv(inputs: readonly BatchInput[], layer: number, batch: StepBatch, kNew: Float32Array, vNew: Float32Array): void {
  inputs.forEach(({ cache, tokens }, b) => {
    cache.append(layer, kNew, vNew, b, batch.S, tokens.length);
  });
}
