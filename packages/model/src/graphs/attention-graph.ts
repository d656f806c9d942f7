// The dense part of one decoder layer as one ONNX graph (dense-block.ts), for the path where the routed
// experts run elsewhere (an ExpertRunner: in this process, or on expert shards). The KV cache lives
// outside the graph (per sequence); the graph returns only the new keys and values.
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens per sequence, P past tokens, T = P + S
// keys, D hidden, K key/value heads, Dh key head dim, Dv value head dim, E experts.
//
// inputs   x [B, S, D]   pos [B, S] int64   mask [B, 1, S, T] additive (0 or -inf)
//          past_k [B, K, P, Dh]   past_v [B, K, P, Dv]
// outputs  h [B, S, D] (x + attention)   hn [B, S, D] (normed, the experts' input)
//          gate_logits [B, S, E] (MoE layers)   dense_out [B, S, D] (when the layer has a dense MLP part)
//          k_new [B, K, S, Dh]   v_new [B, K, S, Dv]
import type { Checkpoint } from "../checkpoint.js";
import { GraphBuilder } from "../onnx/graph-builder.js";
import { addDenseBlock, addRopeLookup } from "./dense-block.js";

/** `layer` is a decoder layer index. */
export function buildAttentionGraph(ckpt: Checkpoint, layer: number): Uint8Array {
  const { hiddenSize: D, numKvHeads: K, headDim: Dh, valueHeadDim: Dv, numExperts: E } = ckpt.config;
  const g = new GraphBuilder(`attention_${layer}`);
  const x = g.input("x", "float32", ["B", "S", D]);
  const pos = g.input("pos", "int64", ["B", "S"]);
  const mask = g.input("mask", "float32", ["B", 1, "S", "T"]);
  const pastK = g.input("past_k", "float32", ["B", K, "P", Dh]);
  const pastV = g.input("past_v", "float32", ["B", K, "P", Dv]);
  const out = addDenseBlock(g, ckpt, layer, { x, mask, pastK, pastV, rope: addRopeLookup(g, ckpt, pos) });
  g.output(out.h, "h", "float32", ["B", "S", D]);
  g.output(out.hn, "hn", "float32", ["B", "S", D]);
  if (out.gateLogits) g.output(out.gateLogits, "gate_logits", "float32", ["B", "S", E]);
  if (out.denseOut) g.output(out.denseOut, "dense_out", "float32", ["B", "S", D]);
  g.output(out.kNew, "k_new", "float32", ["B", K, "S", Dh]);
  g.output(out.vNew, "v_new", "float32", ["B", K, "S", Dv]);
  return g.build();
}
