// The dense part of one decoder layer, as one ONNX graph: input RMSNorm, attention (the family's variant:
// attention-gqa.ts or attention-mla.ts) over [past KV ; new KV], residual add, post-attention RMSNorm, and
// then what the layer computes without the ExpertRunner: the gate's logits (MoE layers), the shared
// experts (MoE layers that have them) or the whole MLP (dense layers) as `dense_out`, which the runtime
// adds to the residual beside the routed experts' sum.
// The KV cache lives outside the graph (per sequence); the graph returns only the new keys and values.
//
// Letters: B sequences, S new tokens per sequence, P past tokens, T = P + S, D hidden, H heads,
// K key/value heads, Dh key head dim, Dv value head dim, E experts.
//
// inputs   x [B, S, D]   pos [B, S] int64   mask [B, 1, S, T] additive (0 or -inf)
//          past_k [B, K, P, Dh]   past_v [B, K, P, Dv]
// outputs  h [B, S, D] (x + attention)   hn [B, S, D] (normed, the experts' input)
//          gate_logits [B, S, E] (MoE layers)   dense_out [B, S, D] (when the layer has a dense MLP part)
//          k_new [B, K, S, Dh]   v_new [B, K, S, Dv]
import type { Checkpoint } from "../checkpoint.js";
import { GraphBuilder } from "../onnx/graph-builder.js";
import { gqaProjections } from "./attention-gqa.js";
import { mlaProjections } from "./attention-mla.js";
import { swigluMlp } from "./mlp-graph.js";
import { rmsNorm } from "./rms-norm.js";
import { ropeTablesForSpec } from "./rope-spec.js";
import { transpose2d } from "./transpose.js";

/** `layer` is a decoder layer index. */
export function buildAttentionGraph(ckpt: Checkpoint, layer: number): Uint8Array {
  const c = ckpt.config;
  const a = ckpt.adapter;
  const { hiddenSize: D, numHeads: H, numKvHeads: K, headDim: Dh, valueHeadDim: Dv, numExperts: E } = c;
  const g = new GraphBuilder(`attention_${layer}`);
  const weightT = (name: string, rows: number, cols: number) =>
    g.initializer("w", transpose2d(ckpt.tensor(name, [rows, cols]), rows, cols), [cols, rows]);

  const x = g.input("x", "float32", ["B", "S", D]);
  const pos = g.input("pos", "int64", ["B", "S"]);
  const mask = g.input("mask", "float32", ["B", 1, "S", "T"]);
  const pastK = g.input("past_k", "float32", ["B", K, "P", Dh]);
  const pastV = g.input("past_v", "float32", ["B", K, "P", Dv]);

  const xn = rmsNorm(g, x, g.initializer("input_norm", ckpt.tensor(a.inputNorm(layer), [D]), [D]), c.rmsNormEps);
  const tables = ropeTablesForSpec(c.maxPositions, c.rope);
  const lookup = (table: Float32Array) =>
    g.op("Unsqueeze", [g.op("Gather", [g.initializer("rope", table, [c.maxPositions, c.rope.dim]), pos], { axis: 0 }), g.ints([1])]); // [B, 1, S, Dr]
  const cos = lookup(tables.cos);
  const sin = lookup(tables.sin);
  const { q, k, v } = (c.attention.kind === "mla" ? mlaProjections : gqaProjections)(g, ckpt, layer, xn, cos, sin);

  let kAll = g.op("Concat", [pastK, k], { axis: 2 }); // [B, K, T, Dh]
  let vAll = g.op("Concat", [pastV, v], { axis: 2 }); // [B, K, T, Dv]
  if (H !== K) {
    const repeat = (t: string, size: number) =>
      g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [t, g.ints([2])]), g.ints([1, 1, H / K, 1, 1])]), g.ints([0, H, -1, size])]);
    kAll = repeat(kAll, Dh); // [B, H, T, Dh]: head h reads kv head floor(h / (H/K))
    vAll = repeat(vAll, Dv);
  }
  const scores = g.op("Add", [
    g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [kAll], { perm: [0, 1, 3, 2] })]), g.scalar(c.attentionScale, "scale")]),
    mask,
  ]); // [B, H, S, T]
  const attn = g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), vAll]); // [B, H, S, Dv]
  const merged = g.op("Reshape", [g.op("Transpose", [attn], { perm: [0, 2, 1, 3] }), g.ints([0, 0, H * Dv])]);
  let o = g.op("MatMul", [merged, weightT(a.attention(layer, "o_proj"), D, H * Dv)]);
  const outputBias = c.attention.kind === "mla" ? c.attention.bias : c.attention.outputBias;
  if (outputBias) o = g.op("Add", [o, g.initializer("b", ckpt.tensor(a.attention(layer, "o_proj", "bias"), [D]), [D])]);
  const h = g.op("Add", [x, o]);
  const hn = rmsNorm(g, h, g.initializer("post_norm", ckpt.tensor(a.postAttentionNorm(layer), [D]), [D]), c.rmsNormEps);

  g.output(h, "h", "float32", ["B", "S", D]);
  g.output(hn, "hn", "float32", ["B", "S", D]);
  if (c.moeLayers.includes(layer)) {
    g.output(g.op("MatMul", [hn, weightT(a.gate(layer), E, D)]), "gate_logits", "float32", ["B", "S", E]);
    const shared = c.sharedExperts;
    if (shared) {
      const F = shared.intermediateSize;
      const w = (n: "w1" | "w2" | "w3", rows: number, cols: number) => ckpt.tensor(a.sharedExpert!(layer, n), [rows, cols]);
      const gate = shared.gated ? ckpt.tensor(a.sharedExpertGate!(layer), [1, D]) : undefined;
      g.output(swigluMlp(g, hn, { w1: w("w1", F, D), w3: w("w3", F, D), w2: w("w2", D, F), gate }, D, F), "dense_out", "float32", ["B", "S", D]);
    }
  } else {
    const F = c.denseIntermediateSize;
    const w = (n: "w1" | "w2" | "w3", rows: number, cols: number) => ckpt.tensor(a.denseMlp(layer, n), [rows, cols]);
    g.output(swigluMlp(g, hn, { w1: w("w1", F, D), w3: w("w3", F, D), w2: w("w2", D, F) }, D, F), "dense_out", "float32", ["B", "S", D]);
  }
  g.output(k, "k_new", "float32", ["B", K, "S", Dh]);
  g.output(v, "v_new", "float32", ["B", K, "S", Dv]);
  return g.build();
}
