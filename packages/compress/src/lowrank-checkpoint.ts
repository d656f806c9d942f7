// Writes MC-SMoE's "compress" step of a (merged) checkpoint: every stored expert's three weights as low
// rank plus structured-sparse residual columns (low-rank.ts) in the layout of the runtime's
// quant/lowrank-layout.ts, fitted on the expert's calibration inputs (w1, w3: the expert's inputs; w2:
// its SwiGLU activations on them). The slot map of a merged checkpoint is kept.
//
// Letters (glossary: docs/ARCHITECTURE.md): L layers, E experts, D hidden size, F expert hidden size, r rank, c
// kept residual columns.
import {
  EXPERT_WEIGHTS,
  expertWeightShape,
  LOW_RANK_KEY,
  LOW_RANK_METHOD,
  lowRankTensorNames,
  lowRankWeightBytes,
  type Checkpoint,
  type TensorToWrite,
} from "@expertmesh/model";
import type { Calibration } from "./calibrate.js";
import { CompressError, nonExpertTensors, writeCompressedCheckpoint } from "./checkpoint-write.js";
import { inputScales, lowRankSparse } from "./low-rank.js";
import { swigluActivations } from "./swiglu.js";

export interface LowRankOptions {
  rank: number; // r, for each of the three weights
  sparseColumns: number; // c, for each of the three weights
}

export interface LowRankReport {
  expertBytes: number; // the stored experts
  /** What the stored experts took in f32 before. */
  storedF32Bytes: number;
}

export function checkLowRankable(src: Checkpoint, opts: LowRankOptions): void {
  const { hiddenSize: D, intermediateSize: F } = src.config;
  if (src.quantization !== null) throw new CompressError(`${src.dir} is quantized; decompose the f32 (or merged f32) checkpoint`);
  if (src.lowRank !== null) throw new CompressError(`${src.dir} is already low-rank (low_rank_config in config.json)`);
  const maxRank = Math.min(D, F);
  if (!(Number.isInteger(opts.rank) && opts.rank >= 0 && opts.rank <= maxRank))
    throw new CompressError(
      `--rank must be an integer in 0..${maxRank} (the smaller of hidden ${D} and expert hidden ${F}), got ${opts.rank}`,
    );
  if (!(Number.isInteger(opts.sparseColumns) && opts.sparseColumns >= 0 && opts.sparseColumns <= D))
    throw new CompressError(`--sparse-columns must be an integer in 0..${D} (the hidden size), got ${opts.sparseColumns}`);
  if (opts.rank === 0 && opts.sparseColumns === 0)
    throw new CompressError("--rank 0 with --sparse-columns 0 would keep nothing of the experts");
}

export function lowRankCheckpoint(src: Checkpoint, cal: Calibration, outDir: string, opts: LowRankOptions): LowRankReport {
  checkLowRankable(src, opts);
  const { numLayers: L, numExperts: E, hiddenSize: D, intermediateSize: F } = src.config;
  const tensors: Record<string, TensorToWrite> = nonExpertTensors(src);
  let expertBytes = 0;
  let stored = 0;
  for (let l = 0; l < L; l++) {
    for (let e = 0; e < E; e++) {
      if (!src.isStored(l, e)) continue;
      stored++;
      const x = src.expert(l, e);
      const rows = cal.rows[l]?.[e] ?? 0;
      const inputs = rows > 0 ? cal.inputs[l][e] : new Float32Array(0);
      const sx = inputScales(inputs, rows, D);
      const sa = inputScales(rows > 0 ? swigluActivations(x, inputs, rows, D, F) : new Float32Array(0), rows, F);
      for (const w of EXPERT_WEIGHTS) {
        const [N, K] = expertWeightShape(w, D, F);
        const c = Math.min(opts.sparseColumns, K);
        const r = lowRankSparse(x[w], N, K, opts.rank, c, w === "w2" ? sa : sx, 1 + l * E + e);
        const names = lowRankTensorNames(src.adapter.expert(src.decoderLayer(l), e, w));
        tensors[names.a] = { data: r.a, shape: [r.rank, K] };
        tensors[names.b] = { data: r.b, shape: [N, r.rank] };
        tensors[names.cols] = { data: r.cols, shape: [r.cols.length] };
        tensors[names.values] = { data: r.values, shape: [N, r.cols.length] };
        expertBytes += lowRankWeightBytes(r);
      }
    }
  }
  const config = { method: LOW_RANK_METHOD, rank: opts.rank, sparse_columns: opts.sparseColumns };
  writeCompressedCheckpoint(src, outDir, tensors, { [LOW_RANK_KEY]: config });
  return { expertBytes, storedF32Bytes: stored * 3 * D * F * 4 };
}
