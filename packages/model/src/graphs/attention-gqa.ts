// Queries, keys and values of grouped-query attention (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE), RoPE applied:
//   q = xn Wq^T (+ bq), k, v likewise; q/k RMSNorm per head [Dh] (Qwen3) or over the projection [H*Dh] /
//   [K*Dh] (OLMoE); q, k, v clamped to ±clip_qkv (OLMoE); heads [B, n, S, Dh]; rotate-half RoPE on q, k.
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens, D hidden, H heads, K kv heads, Dh head
// dim.
import type { Checkpoint } from "../checkpoint.js";
import type { GraphBuilder } from "../onnx/graph-builder.js";
import { rmsNorm } from "./rms-norm.js";
import { applyRope } from "./rope.js";
import { transpose2d } from "./transpose.js";

export interface QkvHeads {
  q: string; // [B, H, S, Dh]
  k: string; // [B, K, S, Dh]
  v: string; // [B, K, S, Dv]
  /** Maps the attention output [B, H, S, Dv] to what o_proj reads per head (MLA's value up-projection). */
  finish?: (attn: string) => string;
  /** Per-head size after `finish` (Dv without it). */
  outDim?: number;
}

export function gqaProjections(g: GraphBuilder, ckpt: Checkpoint, layer: number, xn: string, cos: string, sin: string): QkvHeads {
  const c = ckpt.config;
  const a = ckpt.adapter;
  if (c.attention.kind !== "gqa") throw new Error("gqaProjections: not a GQA config");
  const spec = c.attention;
  const { hiddenSize: D, numHeads: H, numKvHeads: K, headDim: Dh } = c;
  // q, k and v as one MatMul over their stacked weights, split after: one parallel section instead of
  // three when onnxruntime has several threads (k and v alone are too small to be worth waking a thread).
  const parts = [
    { m: "q_proj", rows: H * Dh },
    { m: "k_proj", rows: K * Dh },
    { m: "v_proj", rows: K * Dh },
  ];
  const total = H * Dh + 2 * K * Dh;
  const stacked = new Float32Array(total * D);
  const bias = spec.qkvBias ? new Float32Array(total) : undefined;
  let row = 0;
  for (const { m, rows } of parts) {
    stacked.set(ckpt.tensor(a.attention(layer, m), [rows, D]), row * D);
    bias?.set(ckpt.tensor(a.attention(layer, m, "bias"), [rows]), row);
    row += rows;
  }
  let qkv = g.op("MatMul", [xn, g.initializer("w", transpose2d(stacked, total, D), [D, total])]);
  if (bias) qkv = g.op("Add", [qkv, g.initializer("b", bias, [total])]);
  let [q, k, v] = g.opN("Split", [qkv, g.ints(parts.map((p) => p.rows))], 3, { axis: -1 });
  const norm = (t: string, m: string, size: number) =>
    rmsNorm(g, t, g.initializer("qk_norm", ckpt.tensor(a.attention(layer, m), [size]), [size]), c.rmsNormEps);
  if (spec.qkNorm === "projection") {
    q = norm(q, "q_norm", H * Dh);
    k = norm(k, "k_norm", K * Dh);
  }
  if (spec.clipQkv != null) {
    const lo = g.scalar(-spec.clipQkv, "clip_lo");
    const hi = g.scalar(spec.clipQkv, "clip_hi");
    [q, k, v] = [q, k, v].map((t) => g.op("Clip", [t, lo, hi]));
  }
  const split = (t: string, n: number) => g.op("Reshape", [t, g.ints([0, 0, n, Dh])]); // [B, S, n, Dh]
  const heads = (t: string) => g.op("Transpose", [t], { perm: [0, 2, 1, 3] }); // [B, n, S, Dh]
  let qh = split(q, H);
  let kh = split(k, K);
  if (spec.qkNorm === "head") {
    qh = norm(qh, "q_norm", Dh);
    kh = norm(kh, "k_norm", Dh);
  }
  return { q: applyRope(g, heads(qh), cos, sin, Dh), k: applyRope(g, heads(kh), cos, sin, Dh), v: heads(split(v, K)) };
}
