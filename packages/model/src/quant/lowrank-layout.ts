// The low-rank plus structured-sparse expert layout of MC-SMoE's "compress" step (arXiv 2310.01334: the
// merged experts decomposed into low-rank and structured-sparse parts), as `expertmesh compress lowrank`
// writes it and the runtime computes it (quant/lowrank-expert-graph.ts, no dense weight at load). One
// weight W [N, K] (nn.Linear order; w1, w3 [F, D], w2 [D, F]) is W ≈ B·A + S, four tensors beside the
// weight's name without `.weight`:
//
//   {name}.lr_a       F32 [r, K]   the rank-r factor applied first (A: the top right singular vectors)
//   {name}.lr_b       F32 [N, r]   its left factor (B: left singular vectors times singular values)
//   {name}.sp_cols    I32 [c]      the c input columns of W whose residual is kept (structured sparsity:
//                                  whole columns, so that the kernel gathers c inputs and multiplies densely)
//   {name}.sp_values  F32 [N, c]   the residual W - B·A on those columns; zero on every other column
//
// config.json says which experts are stored so:
//
//   "low_rank_config": { "method": "mc_smoe_lowrank_sparse", "rank": r, "sparse_columns": c }
//
// (r and c per weight are read from the tensors' shapes; the config's values are what the tool was asked).
// The bytes of an expert are those of its twelve tensors (4 per value, 4 per column index).
//
// Letters (glossary: docs/ARCHITECTURE.md): N output rows, K inputs (quantisation's meanings), r rank, c kept
// residual columns.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ExpertWeight } from "../adapters/index.js";
import type { Checkpoint, ExpertWeights } from "../checkpoint.js";
import { ConfigError, TensorError } from "../errors.js";
import { EXPERT_WEIGHTS, expertWeightShape } from "./nbits-expert.js";

export const LOW_RANK_METHOD = "mc_smoe_lowrank_sparse";
export const LOW_RANK_KEY = "low_rank_config";

export interface LowRankConfig {
  method: typeof LOW_RANK_METHOD;
  rank: number;
  sparseColumns: number;
}

export interface LowRankWeight {
  N: number;
  K: number;
  rank: number;
  a: Float32Array; // [r, K]
  b: Float32Array; // [N, r]
  cols: Int32Array; // [c]
  values: Float32Array; // [N, c]
}

export type LowRankExpert = Record<ExpertWeight, LowRankWeight>;

export function readLowRankConfig(dir: string): LowRankConfig | null {
  const file = join(dir, "config.json");
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const c = raw[LOW_RANK_KEY] as Record<string, unknown> | null | undefined;
  if (c == null) return null;
  if (c.method !== LOW_RANK_METHOD)
    throw new ConfigError(file, `${LOW_RANK_KEY}.method`, `unsupported ${JSON.stringify(c.method)} (supported: ${LOW_RANK_METHOD})`);
  for (const k of ["rank", "sparse_columns"]) {
    const v = c[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
      throw new ConfigError(file, `${LOW_RANK_KEY}.${k}`, `must be an integer >= 0, got ${JSON.stringify(v)}`);
  }
  return { method: LOW_RANK_METHOD, rank: c.rank as number, sparseColumns: c.sparse_columns as number };
}

export function lowRankTensorNames(weightName: string): { a: string; b: string; cols: string; values: string } {
  const base = weightName.replace(/\.weight$/, "");
  return { a: `${base}.lr_a`, b: `${base}.lr_b`, cols: `${base}.sp_cols`, values: `${base}.sp_values` };
}

export function lowRankWeightBytes(w: { N: number; K: number; rank: number; cols: { length: number } }): number {
  return 4 * (w.rank * (w.N + w.K) + w.N * w.cols.length + w.cols.length);
}

/** W [N, K] = B·A + S as f32: the reference the runtime's graph is tested against. */
export function reconstructLowRank(w: LowRankWeight): Float32Array {
  const { N, K, rank: r, a, b, cols, values } = w;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let j = 0; j < r; j++) s += b[n * r + j] * a[j * K + k];
      out[n * K + k] = s;
    }
    for (let j = 0; j < cols.length; j++) out[n * K + cols[j]] += values[n * cols.length + j];
  }
  return out;
}

export function reconstructLowRankExpert(x: LowRankExpert): ExpertWeights {
  return { w1: reconstructLowRank(x.w1), w3: reconstructLowRank(x.w3), w2: reconstructLowRank(x.w2) };
}

export function readLowRankExpert(ckpt: Checkpoint, layer: number, stored: number): LowRankExpert {
  const { hiddenSize: D, intermediateSize: F } = ckpt.config;
  const read = (w: ExpertWeight): LowRankWeight => {
    const [N, K] = expertWeightShape(w, D, F);
    const names = lowRankTensorNames(ckpt.adapter.expert(ckpt.decoderLayer(layer), stored, w));
    const t = (name: string, dtype: "F32" | "I32") => {
      const { info, data, file } = ckpt.rawTensor(name);
      if (info.dtype !== dtype) throw new TensorError(name, file, `dtype ${info.dtype}, the low-rank layout stores ${dtype}`);
      return { shape: info.shape, data, file };
    };
    const a = t(names.a, "F32");
    const b = t(names.b, "F32");
    const cols = t(names.cols, "I32");
    const values = t(names.values, "F32");
    const r = a.shape[0];
    const c = cols.shape[0];
    const expect = (x: { shape: number[]; file: string }, name: string, shape: number[]) => {
      if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i]))
        throw new TensorError(
          name,
          x.file,
          `shape [${x.shape}], expected [${shape}] for a [${N}, ${K}] weight of rank ${r} with ${c} columns`,
        );
    };
    expect(a, names.a, [r, K]);
    expect(b, names.b, [N, r]);
    expect(values, names.values, [N, c]);
    const colData = cols.data as Int32Array;
    for (const j of colData) if (!(j >= 0 && j < K)) throw new TensorError(names.cols, cols.file, `column ${j} outside [0, ${K})`);
    return { N, K, rank: r, a: a.data as Float32Array, b: b.data as Float32Array, cols: colData, values: values.data as Float32Array };
  };
  return { w1: read("w1"), w3: read("w3"), w2: read("w2") };
}

export function lowRankExpertBytes(x: LowRankExpert): number {
  return EXPERT_WEIGHTS.reduce((s, w) => s + lowRankWeightBytes(x[w]), 0);
}
