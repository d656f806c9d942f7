// The forward path with every routed expert in this process and inside the graphs: consecutive decoder
// layers (all of them, for a model whose dense weights fit in one graph) run as one session
// (graphs/layers-graph.ts), each MoE layer's routed experts as one onnxruntime MoE node. A decode step
// of the bundled model is then one session run instead of 13 (4 dense graphs, 8 expert runs, the head).
// Routing is still reported: each MoE layer's gate logits are a graph output, and the gate is applied
// to them in JS when someone asks (onRouting).
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens, P past tokens, T = P + S keys, D hidden,
// K kv heads, Dh key head dim, Dv value head dim, E experts, F expert hidden, k experts per token, R rows that
// get logits (the forward pass's meaning).
import { gatherRows, route } from "@expertmesh/moe";
import type { Checkpoint } from "./checkpoint.js";
import type { ForwardOptions, ForwardPath } from "./forward-path.js";
import { buildLayersGraph, groupLayers } from "./graphs/layers-graph.js";
import { moeOperatorSupports, stackExperts } from "./graphs/moe-block.js";
import { createSession, floatTensor, int64Tensor, type InferenceSession, type SessionConfig, type Tensor } from "./ort-session.js";
import { appendKv, KvScratch, pastKv, type BatchInput, type StepBatch } from "./step-batch.js";

/** Most initializer bytes per graph: protobuf caps a model at 2 GB; larger models get several graphs. */
const MAX_GRAPH_BYTES = 1 << 30;

interface Group {
  layers: number[];
  session: InferenceSession;
}

/** Why a checkpoint cannot take the fused path, or null when it can. */
export function fusedUnsupported(ckpt: Checkpoint): string | null {
  if (ckpt.quantization) return "its experts are quantised (they run as MatMulNBits sessions behind the ExpertRunner)";
  if (ckpt.lowRank) return "its experts are low-rank plus sparse (they run as factored sessions behind the ExpertRunner)";
  if (ckpt.slotMap) return "its experts were merged or pruned (expert_slot_map: the gate's slots are mapped in JS)";
  if (!moeOperatorSupports(ckpt.config.gate))
    return "onnxruntime's MoE operator cannot compute its gate (sigmoid scoring, groups, a selection bias or a scale)";
  return null;
}

/**
 * Slices per expert in the MoE nodes (graphs/moe-block.ts): one per thread, so that every thread computes
 * a slice of each chosen expert instead of the kernel's whole experts per thread (at batch 1 both of a
 * token's experts often fell on one thread); 1 for one thread or when the threads do not divide F.
 */
export function expertParts(threads: number, F: number): number {
  return threads > 1 && F % threads === 0 ? threads : 1;
}

export class FusedForward implements ForwardPath {
  readonly name = "fused";
  private readonly scratch = new KvScratch();

  private constructor(
    private readonly ckpt: Checkpoint,
    private readonly groups: Group[],
    /** Per decoder layer that is an MoE layer: fc1 [E, 2F, D] and fc2 [E, D, F], created once and fed to every run. */
    private readonly experts: Map<number, { fc1: Tensor; fc2: Tensor }>,
  ) {}

  /** `parts`: slices per expert in the MoE nodes (default expertParts). */
  static async create(ckpt: Checkpoint, session: SessionConfig, parts?: number): Promise<FusedForward> {
    const { hiddenSize: D, intermediateSize: F, numExperts: E, moeLayers } = ckpt.config;
    const P = parts ?? expertParts(session.threads, F);
    const experts = new Map<number, { fc1: Tensor; fc2: Tensor }>();
    moeLayers.forEach((l, m) => {
      const s = stackExperts(
        Array.from({ length: E }, (_, e) => ckpt.expert(m, e)),
        D,
        F,
        P,
      );
      experts.set(l, { fc1: floatTensor(s.fc1, [P * E, (2 * F) / P, D]), fc2: floatTensor(s.fc2, [P * E, D, F / P]) });
    });
    const layerGroups = groupLayers(ckpt, MAX_GRAPH_BYTES);
    const groups: Group[] = [];
    for (const [i, layers] of layerGroups.entries()) {
      groups.push({ layers, session: await createSession(buildLayersGraph(ckpt, layers, i === layerGroups.length - 1, P), session) });
    }
    return new FusedForward(ckpt, groups, experts);
  }

  async run(inputs: readonly BatchInput[], batch: StepBatch, options: ForwardOptions): Promise<Float32Array> {
    const c = this.ckpt.config;
    const { hiddenSize: D, numKvHeads: K, headDim: Dh, valueHeadDim: Dv, numExperts: E, topK } = c;
    const { B, S, P, T } = batch;
    const pos = int64Tensor(batch.pos, [B, S]);
    const mask = floatTensor(batch.mask, [B, 1, S, T]);
    let hidden = batch.x;
    let logits: Float32Array | undefined;
    const scratch = this.scratch.acquire();
    try {
      for (const [i, group] of this.groups.entries()) {
        options.signal?.throwIfAborted();
        const last = i === this.groups.length - 1;
        const feeds: Record<string, Tensor> = { x: floatTensor(hidden, [B, S, D]), pos, mask };
        for (const l of group.layers) {
          const past = pastKv(inputs, l, batch, c, scratch);
          feeds[`past_k_${l}`] = floatTensor(past.k, [B, K, P, Dh]);
          feeds[`past_v_${l}`] = floatTensor(past.v, [B, K, P, Dv]);
          const w = this.experts.get(l);
          if (w) {
            feeds[`fc1_${l}`] = w.fc1;
            feeds[`fc2_${l}`] = w.fc2;
          }
        }
        if (last) feeds.head_rows = int64Tensor(BigInt64Array.from(batch.headRows, BigInt), [batch.headRows.length]);
        const out = await group.session.run(feeds);
        for (const l of group.layers) {
          appendKv(inputs, l, batch, out[`k_new_${l}`].data as Float32Array, out[`v_new_${l}`].data as Float32Array);
          const m = c.moeLayers.indexOf(l);
          if (options.onRouting && m >= 0) {
            const routing = route(gatherRows(out[`gate_logits_${l}`].data as Float32Array, batch.rows, E), E, topK, c.gate);
            options.onRouting({ layer: m, experts: routing.experts, weights: routing.weights });
          }
        }
        if (last) logits = out.logits.data as Float32Array;
        else hidden = out.hidden.data as Float32Array;
      }
    } finally {
      scratch?.release();
    }
    return logits!;
  }

  async release(): Promise<void> {
    for (const g of this.groups) await g.session.release();
  }
}
