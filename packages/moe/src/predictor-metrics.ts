// How well a routing-path predictor names the experts that the gate will choose, scored against a trace.
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer, k experts chosen per
// token, B sequences per batch (one token each).
import { decodeSchedule, type TraceRouting } from "./cache-access.js";
//
//   recall@k          per token and layer: |predicted top-k ∩ true top-k| / k, averaged over tokens.
//   batch coverage@B  per batch and layer: |P ∩ S| / |S|, where S is the union of the batch's true top-k
//                     and P the union of its predicted top-k; averaged over batches. It is what a prefetch
//                     for the whole batch would have covered. At B = 1 it equals recall@k.
// Batches are decode steps (decodeBatchCoverage, what evaluatePredictor reports): B sequences decoded in
// lockstep, one token of each per step, a lane taking the next sequence when its own ends (cache-access.ts
// decodeSchedule). A batch never holds two tokens of one sequence, so a predictor that reads the previous
// token's routing (known one step earlier) cannot see the batch it predicts. batchCoverage instead cuts the
// trace into consecutive groups of B tokens (prefill-like; a trailing partial group is not scored).

/** Per token and layer, k chosen experts: the shape of a trace's `experts` (a RoutingTrace is one). */
export interface ExpertChoices {
  readonly tokens: number; // T
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  readonly topK: number; // k
  readonly experts: Uint16Array; // [T, L, k]
}

export interface LayerScores {
  /** [L], one score per MoE layer. */
  readonly perLayer: number[];
  /** Mean over layers. */
  readonly mean: number;
}

export interface BatchCoverage extends LayerScores {
  readonly batch: number;
  /** Groups scored (full groups of `batch` tokens); 0 leaves the scores NaN. */
  readonly batches: number;
}

export interface PredictorReport {
  readonly tokens: number;
  readonly numLayers: number;
  readonly numExperts: number;
  readonly topK: number;
  readonly recallAtK: LayerScores;
  readonly batchCoverage: BatchCoverage[];
}

export const DEFAULT_BATCH_SIZES: readonly number[] = Object.freeze([1, 4, 8, 16]);

/**
 * The k most probable experts of each token at each layer, from `probabilities` [T, L, E], highest
 * first; ties go to the lower expert id (as in the gate).
 */
export function predictedTopK(
  probabilities: Float32Array,
  shape: { readonly tokens: number; readonly numLayers: number; readonly numExperts: number },
  k: number,
): ExpertChoices {
  const { tokens: T, numLayers: L, numExperts: E } = shape;
  if (probabilities.length !== T * L * E) {
    throw new RangeError(`predictedTopK: ${probabilities.length} probabilities, expected T*L*E = ${T}*${L}*${E}`);
  }
  if (!Number.isInteger(k) || k < 1 || k > E) throw new RangeError(`predictedTopK: k=${k} must be in 1..${E}`);
  const experts = new Uint16Array(T * L * k); // [T, L, k]
  const taken = new Int32Array(E).fill(-1); // taken[e] === row: e already chosen for this row
  for (let row = 0; row < T * L; row++) {
    const p = row * E;
    for (let j = 0; j < k; j++) {
      let best = -1;
      let bestValue = -Infinity;
      for (let e = 0; e < E; e++) {
        const v = probabilities[p + e];
        // Strictly greater: ties keep the lower id. NaN ranks below every number.
        if (taken[e] !== row && (best === -1 || v > bestValue)) {
          best = e;
          bestValue = Number.isNaN(v) ? -Infinity : v;
        }
      }
      taken[best] = row;
      experts[row * k + j] = best;
    }
  }
  return { tokens: T, numLayers: L, numExperts: E, topK: k, experts };
}

/** recall@k per layer: the share of each token's true top-k that its predicted top-k names, averaged over tokens. */
export function recallAtK(truth: ExpertChoices, predicted: ExpertChoices): LayerScores {
  checkSameShape(truth, predicted);
  const { tokens: T, numLayers: L, topK: k } = truth;
  const hits = new Float64Array(L);
  for (let t = 0; t < T; t++) {
    for (let l = 0; l < L; l++) {
      const base = (t * L + l) * k;
      for (let i = 0; i < k; i++) {
        const e = truth.experts[base + i];
        for (let j = 0; j < k; j++) {
          if (predicted.experts[base + j] === e) {
            hits[l]++;
            break;
          }
        }
      }
    }
  }
  return scores(Array.from(hits, (h) => h / (T * k)));
}

/** Batch coverage per layer at batch size `batch` (see the top of this file). */
export function batchCoverage(truth: ExpertChoices, predicted: ExpertChoices, batch: number): BatchCoverage {
  checkSameShape(truth, predicted);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batchCoverage: batch=${batch} must be a positive integer`);
  const { tokens: T, numLayers: L, numExperts: E, topK: k } = truth;
  const batches = Math.floor(T / batch);
  const sum = new Float64Array(L);
  // Group stamps instead of cleared sets: inTrue[e] === g means e is in group g's true union.
  const inTrue = new Int32Array(E).fill(-1);
  const inPredicted = new Int32Array(E).fill(-1);
  for (let l = 0; l < L; l++) {
    inTrue.fill(-1);
    inPredicted.fill(-1);
    for (let g = 0; g < batches; g++) {
      let needed = 0;
      for (let t = g * batch; t < (g + 1) * batch; t++) {
        const base = (t * L + l) * k;
        for (let i = 0; i < k; i++) {
          const e = truth.experts[base + i];
          if (inTrue[e] !== g) {
            inTrue[e] = g;
            needed++;
          }
          inPredicted[predicted.experts[base + i]] = g;
        }
      }
      let covered = 0;
      for (let e = 0; e < E; e++) if (inTrue[e] === g && inPredicted[e] === g) covered++;
      sum[l] += covered / needed;
    }
  }
  return { batch, batches, ...scores(Array.from(sum, (s) => s / batches)) };
}

/** Batch coverage per layer over the decode steps of `batch` lanes (see the top of this file). */
export function decodeBatchCoverage(truth: TraceRouting, predicted: ExpertChoices, batch: number): BatchCoverage {
  checkSameShape(truth, predicted);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`decodeBatchCoverage: batch=${batch} must be a positive integer`);
  const { numLayers: L, numExperts: E, topK: k } = truth;
  const { steps: S, tokens } = decodeSchedule(truth, batch);
  const sum = new Float64Array(L);
  const inTrue = new Int32Array(E); // stamps: inTrue[e] === t + 1 means e is in step t's true union
  const inPredicted = new Int32Array(E);
  for (let l = 0; l < L; l++) {
    inTrue.fill(0);
    inPredicted.fill(0);
    for (let t = 0; t < S; t++) {
      let needed = 0;
      for (let b = 0; b < batch; b++) {
        const n = tokens[t * batch + b];
        if (n < 0) continue;
        const base = (n * L + l) * k;
        for (let i = 0; i < k; i++) {
          const e = truth.experts[base + i];
          if (inTrue[e] !== t + 1) {
            inTrue[e] = t + 1;
            needed++;
          }
          inPredicted[predicted.experts[base + i]] = t + 1;
        }
      }
      let covered = 0;
      for (let e = 0; e < E; e++) if (inTrue[e] === t + 1 && inPredicted[e] === t + 1) covered++;
      sum[l] += covered / needed;
    }
  }
  return { batch, batches: S, ...scores(Array.from(sum, (x) => x / S)) };
}

/** recall@k and decode-batch coverage of predicted experts [T, L, k] against the trace `truth`. */
export function evaluateChoices(
  truth: TraceRouting,
  predicted: ExpertChoices,
  batchSizes: readonly number[] = DEFAULT_BATCH_SIZES,
): PredictorReport {
  return {
    tokens: truth.tokens,
    numLayers: truth.numLayers,
    numExperts: truth.numExperts,
    topK: truth.topK,
    recallAtK: recallAtK(truth, predicted),
    batchCoverage: batchSizes.map((b) => decodeBatchCoverage(truth, predicted, b)),
  };
}

/** recall@k and decode-batch coverage of `probabilities` [T, L, E] (through their top-k) against the trace `truth`. */
export function evaluatePredictor(
  truth: TraceRouting,
  probabilities: Float32Array,
  batchSizes: readonly number[] = DEFAULT_BATCH_SIZES,
): PredictorReport {
  return evaluateChoices(truth, predictedTopK(probabilities, truth, truth.topK), batchSizes);
}

function scores(perLayer: number[]): LayerScores {
  return { perLayer, mean: perLayer.reduce((a, b) => a + b, 0) / perLayer.length };
}

function checkSameShape(truth: ExpertChoices, predicted: ExpertChoices): void {
  const dims = (c: ExpertChoices) => `T=${c.tokens} L=${c.numLayers} E=${c.numExperts} k=${c.topK}`;
  if (dims(truth) !== dims(predicted)) throw new RangeError(`predictor metrics: truth has ${dims(truth)}, prediction ${dims(predicted)}`);
  for (const c of [truth, predicted]) {
    if (c.experts.length !== c.tokens * c.numLayers * c.topK)
      throw new RangeError(`predictor metrics: experts length ${c.experts.length} is not T*L*k for ${dims(c)}`);
  }
  for (const e of truth.experts)
    if (e >= truth.numExperts) throw new RangeError(`predictor metrics: expert id ${e} out of range (E=${truth.numExperts})`);
  for (const e of predicted.experts)
    if (e >= predicted.numExperts) throw new RangeError(`predictor metrics: expert id ${e} out of range (E=${predicted.numExperts})`);
}
