// The dense part of one decoder layer, added to a graph under construction: input RMSNorm, attention (the
// family's variant: attention-gqa.ts or attention-mla.ts) over [past KV ; new KV], residual add,
// post-attention RMSNorm, and what the layer computes without routed experts: the gate's logits (MoE
// layers), the shared experts (MoE layers that have them) or the whole MLP (dense layers) as `denseOut`.
// Used by the per-layer dense graph (attention-graph.ts: routed experts behind an ExpertRunner) and by the
// fused layer graphs (layers-graph.ts: routed experts inside the graph).
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens per sequence, P past tokens, T = P + S
// keys, D hidden, H heads, K key/value heads, Dh key head dim, Dv value head dim, Dr rotated dims, E experts.
import type { Checkpoint } from "../checkpoint.js";
import type { GraphBuilder } from "../onnx/graph-builder.js";
import { gqaProjections } from "./attention-gqa.js";
import { mlaProjections } from "./attention-mla.js";
import { swigluMlp } from "./mlp-graph.js";
import { rmsNorm } from "./rms-norm.js";
import { ropeTablesForSpec } from "./rope-spec.js";
import { transpose2d } from "./transpose.js";

/** cos and sin of the new tokens' positions, [B, 1, S, Dr]: looked up once per graph, shared by its layers. */
export interface RopeLookup {
  cos: string;
  sin: string;
}

export interface DenseInputs {
  x: string; // [B, S, D]
  mask: string; // [B, 1, S, T] additive (0 or -inf)
  pastK: string; // [B, K, P, Dh]
  pastV: string; // [B, K, P, Dv]
  rope: RopeLookup;
}

export interface DenseOutputs {
  h: string; // [B, S, D] x + attention
  hn: string; // [B, S, D] post-attention RMSNorm of h: the gate's and the experts' input
  /** [B, S, E] in MoE layers. */
  gateLogits?: string;
  /** [B, S, D] shared experts (MoE layers that have them) or the MLP (dense layers), to add to h. */
  denseOut?: string;
  kNew: string; // [B, K, S, Dh]
  vNew: string; // [B, K, S, Dv]
}

export function addRopeLookup(g: GraphBuilder, ckpt: Checkpoint, pos: string): RopeLookup {
  const c = ckpt.config;
  const tables = ropeTablesForSpec(c.maxPositions, c.rope);
  const lookup = (table: Float32Array) =>
    g.op("Unsqueeze", [g.op("Gather", [g.initializer("rope", table, [c.maxPositions, c.rope.dim]), pos], { axis: 0 }), g.ints([1])]); // [B, 1, S, Dr]
  return { cos: lookup(tables.cos), sin: lookup(tables.sin) };
}

/** `layer` is a decoder layer index. */
export function addDenseBlock(g: GraphBuilder, ckpt: Checkpoint, layer: number, io: DenseInputs): DenseOutputs {
  const c = ckpt.config;
  const a = ckpt.adapter;
  const { hiddenSize: D, numHeads: H, numKvHeads: K, valueHeadDim: Dv, numExperts: E } = c;
  const weightT = (name: string, rows: number, cols: number) =>
    g.initializer("w", transpose2d(ckpt.tensor(name, [rows, cols]), rows, cols), [cols, rows]);

  const xn = rmsNorm(g, io.x, g.initializer("input_norm", ckpt.tensor(a.inputNorm(layer), [D]), [D]), c.rmsNormEps);
  const {
    q,
    k,
    v,
    finish,
    outDim = Dv,
  } = (c.attention.kind === "mla" ? mlaProjections : gqaProjections)(g, ckpt, layer, xn, io.rope.cos, io.rope.sin);

  const kAll = g.op("Concat", [io.pastK, k], { axis: 2 }); // [B, K, T, Dh]
  const vAll = g.op("Concat", [io.pastV, v], { axis: 2 }); // [B, K, T, Dv]
  // Grouped-query attention without copying K/V per query head: the G = H/K query heads that read kv
  // head j are consecutive (h = j·G + r), so q [B, H, S, Dh] viewed as [B, K, G·S, Dh] multiplies kv head
  // j's keys directly; scores are viewed back as [B, H, S, T] for the mask and the softmax.
  const grouped = (t: string) => (H === K ? t : g.op("Reshape", [t, g.ints([0, K, -1, 0])])); // [B, K, G·S, ·]
  const perHead = (t: string) => (H === K ? t : g.op("Reshape", [t, g.ints([0, H, -1, 0])])); // [B, H, S, ·]
  const scores = g.op("Add", [
    perHead(
      g.op("Mul", [g.op("MatMul", [grouped(q), g.op("Transpose", [kAll], { perm: [0, 1, 3, 2] })]), g.scalar(c.attentionScale, "scale")]),
    ),
    io.mask,
  ]); // [B, H, S, T]
  let attn = perHead(g.op("MatMul", [grouped(g.op("Softmax", [scores], { axis: -1 })), vAll])); // [B, H, S, Dv]
  if (finish) attn = finish(attn); // [B, H, S, outDim]
  const merged = g.op("Reshape", [g.op("Transpose", [attn], { perm: [0, 2, 1, 3] }), g.ints([0, 0, H * outDim])]);
  let o = g.op("MatMul", [merged, weightT(a.attention(layer, "o_proj"), D, H * outDim)]);
  const outputBias = c.attention.kind === "mla" ? c.attention.bias : c.attention.outputBias;
  if (outputBias) o = g.op("Add", [o, g.initializer("b", ckpt.tensor(a.attention(layer, "o_proj", "bias"), [D]), [D])]);
  const h = g.op("Add", [io.x, o]);
  const hn = rmsNorm(g, h, g.initializer("post_norm", ckpt.tensor(a.postAttentionNorm(layer), [D]), [D]), c.rmsNormEps);

  const out: DenseOutputs = { h, hn, kNew: k, vNew: v };
  if (c.moeLayers.includes(layer)) {
    out.gateLogits = g.op("MatMul", [hn, weightT(a.gate(layer), E, D)]);
    const shared = c.sharedExperts;
    if (shared) {
      const F = shared.intermediateSize;
      const w = (n: "w1" | "w2" | "w3", rows: number, cols: number) => ckpt.tensor(a.sharedExpert!(layer, n), [rows, cols]);
      const gate = shared.gated ? ckpt.tensor(a.sharedExpertGate!(layer), [1, D]) : undefined;
      out.denseOut = swigluMlp(g, hn, { w1: w("w1", F, D), w3: w("w3", F, D), w2: w("w2", D, F), gate }, D, F);
    }
  } else {
    const F = c.denseIntermediateSize;
    const w = (n: "w1" | "w2" | "w3", rows: number, cols: number) => ckpt.tensor(a.denseMlp(layer, n), [rows, cols]);
    out.denseOut = swigluMlp(g, hn, { w1: w("w1", F, D), w3: w("w3", F, D), w2: w("w2", D, F) }, D, F);
  }
  return out;
}
