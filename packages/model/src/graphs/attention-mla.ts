// Queries, keys and values of DeepSeek-V3's multi-head latent attention (transformers DeepseekV3Attention),
// expanded per head so that the KV cache holds full keys [H, Dn+Dr] and values [H, Dv] like HF's cache:
//   q   = xn Wq^T, or (rmsnorm(xn Wqa^T (+b)) Wqb^T)            [B, S, H*(Dn+Dr)] -> heads, split [Dn | Dr]
//   ckv = xn Wkva^T (+b)                                         [B, S, R+Dr] split [latent R | k_rope Dr]
//   kv  = rmsnorm(latent) Wkvb^T                                 [B, S, H*(Dn+Dv)] -> heads, split [k_nope | v]
//   RoPE on q_rope and the one shared k_rope (de-interleaved first when rope_interleave), k_rope broadcast
//   to the H heads; q = [q_nope | q_rope], k = [k_nope | k_rope].
// Letters: B sequences, S new tokens, D hidden, H heads, R kv_lora_rank, Rq q_lora_rank, Dn qk_nope_head_dim,
// Dr qk_rope_head_dim, Dv v_head_dim.
import { MLA_NORM_EPS } from "../adapters/index.js";
import type { Checkpoint } from "../checkpoint.js";
import type { GraphBuilder } from "../onnx/graph-builder.js";
import type { QkvHeads } from "./attention-gqa.js";
import { rmsNorm } from "./rms-norm.js";
import { applyRope, deinterleave } from "./rope.js";
import { transpose2d } from "./transpose.js";

export function mlaProjections(g: GraphBuilder, ckpt: Checkpoint, layer: number, xn: string, cos: string, sin: string): QkvHeads {
  const c = ckpt.config;
  const a = ckpt.adapter;
  if (c.attention.kind !== "mla") throw new Error("mlaProjections: not an MLA config");
  const { qLoraRank: Rq, kvLoraRank: R, nopeDim: Dn, ropeDim: Dr, bias } = c.attention;
  const { hiddenSize: D, numHeads: H, valueHeadDim: Dv } = c;
  const linear = (x: string, m: string, rows: number, cols: number, withBias: boolean) => {
    const w = g.initializer("w", transpose2d(ckpt.tensor(a.attention(layer, m), [rows, cols]), rows, cols), [cols, rows]);
    const y = g.op("MatMul", [x, w]);
    return withBias ? g.op("Add", [y, g.initializer("b", ckpt.tensor(a.attention(layer, m, "bias"), [rows]), [rows])]) : y;
  };
  const norm = (x: string, m: string, size: number) => rmsNorm(g, x, g.initializer("mla_norm", ckpt.tensor(a.attention(layer, m), [size]), [size]), MLA_NORM_EPS);
  const heads = (t: string, size: number) => g.op("Transpose", [g.op("Reshape", [t, g.ints([0, 0, H, size])])], { perm: [0, 2, 1, 3] });

  const qFlat = Rq == null
    ? linear(xn, "q_proj", H * (Dn + Dr), D, false)
    : linear(norm(linear(xn, "q_a_proj", Rq, D, bias), "q_a_layernorm", Rq), "q_b_proj", H * (Dn + Dr), Rq, false);
  const [qNope, qRope] = g.opN("Split", [heads(qFlat, Dn + Dr), g.ints([Dn, Dr])], 2, { axis: 3 }); // [B, H, S, Dn], [B, H, S, Dr]
  const [latent, kRopeFlat] = g.opN("Split", [linear(xn, "kv_a_proj_with_mqa", R + Dr, D, bias), g.ints([R, Dr])], 2, { axis: 2 });
  const kv = heads(linear(norm(latent, "kv_a_layernorm", R), "kv_b_proj", H * (Dn + Dv), R, false), Dn + Dv);
  const [kNope, v] = g.opN("Split", [kv, g.ints([Dn, Dv])], 2, { axis: 3 }); // [B, H, S, Dn], [B, H, S, Dv]
  let kRope = g.op("Unsqueeze", [kRopeFlat, g.ints([1])]); // [B, 1, S, Dr]
  let qr = qRope;
  if (c.rope.interleave) {
    qr = deinterleave(g, qr, Dr);
    kRope = deinterleave(g, kRope, Dr);
  }
  qr = applyRope(g, qr, cos, sin, Dr);
  const kr = g.op("Expand", [applyRope(g, kRope, cos, sin, Dr), g.ints([1, H, 1, 1])]); // [B, H, S, Dr]
  return { q: g.op("Concat", [qNope, qr], { axis: 3 }), k: g.op("Concat", [kNope, kr], { axis: 3 }), v };
}
