// The dense part of one decoder layer, as one ONNX graph: input RMSNorm, grouped-query attention with
// rotary embeddings over [past KV ; new KV], residual add, post-attention RMSNorm and the gate's logits.
// The KV cache lives outside the graph (per sequence); the graph returns only the new keys and values.
//
// Letters: B sequences, S new tokens per sequence, P past tokens, T = P + S, D hidden, H heads,
// K key/value heads, Dh head dim, E experts.
//
// inputs   x [B, S, D]   pos [B, S] int64   mask [B, 1, S, T] additive (0 or -inf)
//          past_k, past_v [B, K, P, Dh]
// outputs  h [B, S, D] (x + attention)   hn [B, S, D] (normed, the experts' input)
//          gate_logits [B, S, E]   k_new, v_new [B, K, S, Dh]
import type { Checkpoint } from "../checkpoint.js";
import { GraphBuilder } from "../onnx/graph-builder.js";
import { rmsNorm } from "./rms-norm.js";
import { applyRope, ropeTables } from "./rope.js";
import { transpose2d } from "./transpose.js";

export function buildAttentionGraph(ckpt: Checkpoint, layer: number): Uint8Array {
  const c = ckpt.config;
  const a = ckpt.adapter;
  const { hiddenSize: D, numHeads: H, numKvHeads: K, headDim: Dh, numExperts: E } = c;
  const g = new GraphBuilder(`attention_${layer}`);
  const weightT = (name: string, rows: number, cols: number) =>
    g.initializer("w", transpose2d(ckpt.tensor(name, [rows, cols]), rows, cols), [cols, rows]);

  const x = g.input("x", "float32", ["B", "S", D]);
  const pos = g.input("pos", "int64", ["B", "S"]);
  const mask = g.input("mask", "float32", ["B", 1, "S", "T"]);
  const pastK = g.input("past_k", "float32", ["B", K, "P", Dh]);
  const pastV = g.input("past_v", "float32", ["B", K, "P", Dh]);

  const xn = rmsNorm(g, x, g.initializer("input_norm", ckpt.tensor(a.inputNorm(layer), [D]), [D]), c.rmsNormEps);
  const heads = (t: string, n: number) =>
    g.op("Transpose", [g.op("Reshape", [t, g.ints([0, 0, n, Dh])])], { perm: [0, 2, 1, 3] }); // [B, n, S, Dh]
  const q = heads(g.op("MatMul", [xn, weightT(a.attention(layer, "q"), H * Dh, D)]), H);
  const k = heads(g.op("MatMul", [xn, weightT(a.attention(layer, "k"), K * Dh, D)]), K);
  const v = heads(g.op("MatMul", [xn, weightT(a.attention(layer, "v"), K * Dh, D)]), K);

  const tables = ropeTables(c.maxPositions, Dh, c.ropeTheta);
  const lookup = (table: Float32Array) =>
    g.op("Unsqueeze", [g.op("Gather", [g.initializer("rope", table, [c.maxPositions, Dh]), pos], { axis: 0 }), g.ints([1])]); // [B, 1, S, Dh]
  const cos = lookup(tables.cos);
  const sin = lookup(tables.sin);
  const qr = applyRope(g, q, cos, sin, Dh);
  const kr = applyRope(g, k, cos, sin, Dh);

  let kAll = g.op("Concat", [pastK, kr], { axis: 2 }); // [B, K, T, Dh]
  let vAll = g.op("Concat", [pastV, v], { axis: 2 });
  if (H !== K) {
    const repeat = (t: string) =>
      g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [t, g.ints([2])]), g.ints([1, 1, H / K, 1, 1])]), g.ints([0, H, -1, Dh])]);
    kAll = repeat(kAll); // [B, H, T, Dh]: head h reads kv head floor(h / (H/K))
    vAll = repeat(vAll);
  }
  const scores = g.op("Add", [
    g.op("Mul", [g.op("MatMul", [qr, g.op("Transpose", [kAll], { perm: [0, 1, 3, 2] })]), g.scalar(1 / Math.sqrt(Dh), "scale")]),
    mask,
  ]); // [B, H, S, T]
  const attn = g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), vAll]); // [B, H, S, Dh]
  const merged = g.op("Reshape", [g.op("Transpose", [attn], { perm: [0, 2, 1, 3] }), g.ints([0, 0, H * Dh])]);
  const h = g.op("Add", [x, g.op("MatMul", [merged, weightT(a.attention(layer, "o"), D, H * Dh)])]);
  const hn = rmsNorm(g, h, g.initializer("post_norm", ckpt.tensor(a.postAttentionNorm(layer), [D]), [D]), c.rmsNormEps);
  const gateLogits = g.op("MatMul", [hn, weightT(a.gate(layer), E, D)]);

  g.output(h, "h", "float32", ["B", "S", D]);
  g.output(hn, "hn", "float32", ["B", "S", D]);
  g.output(gateLogits, "gate_logits", "float32", ["B", "S", E]);
  g.output(kr, "k_new", "float32", ["B", K, "S", Dh]);
  g.output(v, "v_new", "float32", ["B", K, "S", Dh]);
  return g.build();
}
