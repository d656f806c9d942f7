// Queries, keys and values of DeepSeek-V3's multi-head latent attention (transformers DeepseekV3Attention),
// in the absorbed form, so that the KV cache holds one latent per token instead of per-head keys and values:
//   q    = xn Wq^T, or (rmsnorm(xn Wqa^T (+b)) Wqb^T)           [B, S, H*(Dn+Dr)] -> heads, split [q_nope | q_rope]
//   ckv  = xn Wkva^T (+b)                                        [B, S, R+Dr] split [latent R | k_rope Dr]
//   c    = rmsnorm(latent)                                       [B, S, R], the cached latent
//   HF expands kv = c Wkvb^T into per-head [k_nope | v]; with Wkvb's rows of head h split into
//   Wuk_h [Dn, R] and Wuv_h [Dv, R]:  q_nope · k_nope = (q_nope Wuk_h) · c  and  softmax · v = (softmax · c) Wuv_h^T.
//   So the graph attends with q' = [q_nope Wuk_h | rope(q_rope)] over one shared key k' = [c | rope(k_rope)]
//   (K = 1 head of R + Dr) and value c (R), then maps each head's output through Wuv_h^T (finish).
//   RoPE de-interleaves q_rope and k_rope first when rope_interleave. Equal to HF's expanded form up to
//   the order of floating-point sums; the cache per token and layer is 2R + Dr floats instead of H(Dn+Dr+Dv).
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens, D hidden, H heads, R kv_lora_rank, Rq
// q_lora_rank, Dn qk_nope_head_dim, Dr qk_rope_head_dim, Dv v_head_dim.
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
  const { qLoraRank: Rq, kvLoraRank: R, nopeDim: Dn, ropeDim: Dr, valueDim: Dv, bias } = c.attention;
  const { hiddenSize: D, numHeads: H } = c;
  const linear = (x: string, m: string, rows: number, cols: number, withBias: boolean) => {
    const w = g.initializer("w", transpose2d(ckpt.tensor(a.attention(layer, m), [rows, cols]), rows, cols), [cols, rows]);
    const y = g.op("MatMul", [x, w]);
    return withBias ? g.op("Add", [y, g.initializer("b", ckpt.tensor(a.attention(layer, m, "bias"), [rows]), [rows])]) : y;
  };
  const norm = (x: string, m: string, size: number) =>
    rmsNorm(g, x, g.initializer("mla_norm", ckpt.tensor(a.attention(layer, m), [size]), [size]), MLA_NORM_EPS);

  const qFlat =
    Rq == null
      ? linear(xn, "q_proj", H * (Dn + Dr), D, false)
      : linear(norm(linear(xn, "q_a_proj", Rq, D, bias), "q_a_layernorm", Rq), "q_b_proj", H * (Dn + Dr), Rq, false);
  const qHeads = g.op("Transpose", [g.op("Reshape", [qFlat, g.ints([0, 0, H, Dn + Dr])])], { perm: [0, 2, 1, 3] }); // [B, H, S, Dn+Dr]
  const [qNope, qRope] = g.opN("Split", [qHeads, g.ints([Dn, Dr])], 2, { axis: 3 }); // [B, H, S, Dn], [B, H, S, Dr]
  const [latent, kRopeFlat] = g.opN("Split", [linear(xn, "kv_a_proj_with_mqa", R + Dr, D, bias), g.ints([R, Dr])], 2, { axis: 2 });
  const cLatent = g.op("Unsqueeze", [norm(latent, "kv_a_layernorm", R), g.ints([1])]); // [B, 1, S, R]

  // kv_b_proj [H*(Dn+Dv), R]: per head, Dn rows of Wuk_h then Dv rows of Wuv_h.
  const kvB = ckpt.tensor(a.attention(layer, "kv_b_proj"), [H * (Dn + Dv), R]);
  const uk = new Float32Array(H * Dn * R); // [H, Dn, R]
  const uvT = new Float32Array(H * R * Dv); // [H, R, Dv]
  for (let h = 0; h < H; h++) {
    const head = h * (Dn + Dv) * R;
    uk.set(kvB.subarray(head, head + Dn * R), h * Dn * R);
    uvT.set(transpose2d(kvB.subarray(head + Dn * R, head + (Dn + Dv) * R), Dv, R), h * R * Dv);
  }
  const qLatent = g.op("MatMul", [qNope, g.initializer("w_uk", uk, [H, Dn, R])]); // [B, H, S, R]

  let kRope = g.op("Unsqueeze", [kRopeFlat, g.ints([1])]); // [B, 1, S, Dr]
  let qr = qRope;
  if (c.rope.interleave) {
    qr = deinterleave(g, qr, Dr);
    kRope = deinterleave(g, kRope, Dr);
  }
  const wUvT = g.initializer("w_uv", uvT, [H, R, Dv]);
  return {
    q: g.op("Concat", [qLatent, applyRope(g, qr, cos, sin, Dr)], { axis: 3 }), // [B, H, S, R+Dr]
    k: g.op("Concat", [cLatent, applyRope(g, kRope, cos, sin, Dr)], { axis: 3 }), // [B, 1, S, R+Dr]
    v: cLatent, // [B, 1, S, R]
    finish: (attn) => g.op("MatMul", [attn, wUvT]), // [B, H, S, R] -> [B, H, S, Dv]
    outDim: Dv,
  };
}
