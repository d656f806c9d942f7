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
  const project = (m: string, rows: number) => {
    const w = g.initializer("w", transpose2d(ckpt.tensor(a.attention(layer, m), [rows, D]), rows, D), [D, rows]);
    const y = g.op("MatMul", [xn, w]);
    return spec.qkvBias ? g.op("Add", [y, g.initializer("b", ckpt.tensor(a.attention(layer, m, "bias"), [rows]), [rows])]) : y;
  };
  let q = project("q_proj", H * Dh);
  let k = project("k_proj", K * Dh);
  let v = project("v_proj", K * Dh);
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
