// Consecutive decoder layers with their routed experts inside, as one ONNX graph: per layer the dense
// block (dense-block.ts: attention, norms, gate logits, shared experts or dense MLP), the MoE block
// (moe-block.ts, one onnxruntime MoE node) and the residual adds; the graph that holds the last layer also
// applies the final norm and LM head to the rows named by head_rows. One session run computes all of
// its layers, where the seam path needs one run per layer plus one per expert. Routed experts' weights
// are inputs, not initializers, so that a graph stays far below protobuf's 2 GB and the weights are held
// once, by the caller.
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens, P past tokens, T = P + S keys, D hidden,
// K kv heads, Dh key head dim, Dv value head dim, E experts, F expert hidden, R rows that get logits (the
// forward pass's meaning), V vocabulary; l a decoder layer of the graph.
//
// inputs   x [B, S, D]   pos [B, S] int64   mask [B, 1, S, T]
//          per layer l: past_k_l [B, K, P, Dh]   past_v_l [B, K, P, Dv]
//          per MoE layer l: fc1_l [P·E, 2F/P, D]   fc2_l [P·E, D, F/P] (P `parts` per expert: moe-block.ts)
//          with the head: head_rows [R] int64 (rows b * S + s of the flattened batch)
// outputs  per layer l: k_new_l [B, K, S, Dh]   v_new_l [B, K, S, Dv]   per MoE layer l: gate_logits_l [B, S, E]
//          hidden [B, S, D] (the last layer's output), or with the head: logits [R, V]
import type { Checkpoint } from "../checkpoint.js";
import { GraphBuilder } from "../onnx/graph-builder.js";
import { addDenseBlock, addRopeLookup } from "./dense-block.js";
import { addHead } from "./head-graph.js";
import { addMoeBlock } from "./moe-block.js";

export function buildLayersGraph(ckpt: Checkpoint, layers: readonly number[], withHead: boolean, parts = 1): Uint8Array {
  const c = ckpt.config;
  const { hiddenSize: D, numKvHeads: K, headDim: Dh, valueHeadDim: Dv, numExperts: E, intermediateSize: F, vocabSize: V } = c;
  const g = new GraphBuilder(`layers_${layers[0]}_${layers[layers.length - 1]}`);
  const x = g.input("x", "float32", ["B", "S", D]);
  const pos = g.input("pos", "int64", ["B", "S"]);
  const mask = g.input("mask", "float32", ["B", 1, "S", "T"]);
  const rope = addRopeLookup(g, ckpt, pos);
  let hidden = x;
  for (const l of layers) {
    const pastK = g.input(`past_k_${l}`, "float32", ["B", K, "P", Dh]);
    const pastV = g.input(`past_v_${l}`, "float32", ["B", K, "P", Dv]);
    const d = addDenseBlock(g, ckpt, l, { x: hidden, mask, pastK, pastV, rope });
    hidden = d.denseOut ? g.op("Add", [d.h, d.denseOut]) : d.h;
    if (d.gateLogits) {
      const fc1 = g.input(`fc1_${l}`, "float32", [parts * E, (2 * F) / parts, D]);
      const fc2 = g.input(`fc2_${l}`, "float32", [parts * E, D, F / parts]);
      hidden = g.op("Add", [hidden, addMoeBlock(g, c, d.hn, d.gateLogits, fc1, fc2, parts)]);
      g.output(d.gateLogits, `gate_logits_${l}`, "float32", ["B", "S", E]);
    }
    g.output(d.kNew, `k_new_${l}`, "float32", ["B", K, "S", Dh]);
    g.output(d.vNew, `v_new_${l}`, "float32", ["B", K, "S", Dv]);
  }
  if (withHead) {
    const headRows = g.input("head_rows", "int64", ["R"]);
    const rows = g.op("Gather", [g.op("Reshape", [hidden, g.ints([-1, D])]), headRows], { axis: 0 }); // [R, D]
    g.output(addHead(g, ckpt, rows), "logits", "float32", ["R", V]);
  } else {
    g.output(hidden, "hidden", "float32", ["B", "S", D]);
  }
  return g.build();
}

/** About the bytes of initializers decoder layer `l` adds to a layers graph (attention, gate, shared or dense MLP). */
function layerInitializerBytes(ckpt: Checkpoint, l: number): number {
  const c = ckpt.config;
  const { hiddenSize: D, numHeads: H, numKvHeads: K, headDim: Dh, valueHeadDim: Dv, numExperts: E } = c;
  const attention = D * (H * Dh + K * Dh + K * Dv) + H * Dv * D;
  const mlp = c.moeLayers.includes(l) ? E * D + 3 * D * (c.sharedExperts?.intermediateSize ?? 0) : 3 * D * c.denseIntermediateSize;
  return 4 * (attention + mlp + 2 * D);
}

/** Splits the decoder layers into consecutive groups whose initializers (plus the head's, for the last) stay within `maxBytes`. */
export function groupLayers(ckpt: Checkpoint, maxBytes: number): number[][] {
  const { numHiddenLayers: L, vocabSize: V, hiddenSize: D } = ckpt.config;
  const groups: number[][] = [[]];
  let size = 0;
  for (let l = 0; l < L; l++) {
    const bytes = layerInitializerBytes(ckpt, l) + (l === L - 1 ? 4 * V * D : 0);
    if (groups[groups.length - 1].length > 0 && size + bytes > maxBytes) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1].push(l);
    size += bytes;
  }
  return groups;
}
