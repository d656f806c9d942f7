// Writes a merged (MC-SMoE M-SMoE) or frequency-pruned checkpoint with K stored experts per layer. The gate
// keeps its E logits; config.json's expert_slot_map (packages/model/src/expert-slots.ts) sends each slot to
// the stored expert of its group (merge) or masks it (prune: -1). Stored experts sit at their dominant
// slot's tensor names, so every tool addresses experts by slot as before.
//
// Letters: L layers, E experts (gate slots), K stored experts per layer, D hidden size, F expert hidden size.
import { EXPERT_WEIGHTS, type Checkpoint, type TensorToWrite } from "@expertmesh/model";
import { PRUNED_SLOT } from "@expertmesh/moe";
import { CompressError, copiedTensors, writeCompressedCheckpoint } from "./checkpoint-write.js";
import { groupExperts, mergeGroup } from "./merge-experts.js";
import type { RoutingStats } from "./routing-stats.js";

export type ReduceMethod = "merge" | "prune";

export interface MergeOptions {
  expertsPerLayer: number; // K
  method: ReduceMethod;
  /** Permutation alignment before averaging (MC-SMoE); off only to measure what it contributes. */
  align?: boolean;
}

export interface MergeReport {
  method: ReduceMethod;
  slotMap: number[][]; // [L][E]
  dominant: number[][]; // [L][K]
  expertBytes: number; // stored experts
  f32ExpertBytes: number; // all E experts before
}

export function checkMergeable(src: Checkpoint, K: number): void {
  const E = src.config.numExperts;
  if (!Number.isInteger(K) || K < 1) throw new CompressError(`--experts-per-layer must be a positive integer, got ${K}`);
  if (K > E) throw new CompressError(`--experts-per-layer ${K} is more than the model's ${E} experts per layer`);
  if (K < src.config.topK)
    throw new CompressError(`--experts-per-layer ${K} is fewer than the ${src.config.topK} experts each token uses (num_experts_per_tok)`);
  if (src.quantization !== null) throw new CompressError(`${src.dir} is quantized; merge the f32 checkpoint, then quantize`);
  if (src.slotMap !== null) throw new CompressError(`${src.dir} is already merged or pruned (expert_slot_map in config.json)`);
}

export function mergeCheckpoint(src: Checkpoint, stats: RoutingStats, outDir: string, opts: MergeOptions): MergeReport {
  const K = opts.expertsPerLayer;
  checkMergeable(src, K);
  const { numLayers: L, numExperts: E, hiddenSize: D, intermediateSize: F } = src.config;
  const expertNames = new Set<string>();
  for (let l = 0; l < L; l++)
    for (let e = 0; e < E; e++) for (const w of EXPERT_WEIGHTS) expertNames.add(src.adapter.expert(src.decoderLayer(l), e, w));
  const tensors: Record<string, TensorToWrite> = copiedTensors(src, (name) => !expertNames.has(name));
  const slotMap: number[][] = [];
  const dominants: number[][] = [];
  for (let l = 0; l < L; l++) {
    const s = stats.layers[l];
    if (s.logitSimilarity === null) throw new CompressError(`layer ${l}: no router logits in the statistics`);
    const { dominant, group } = groupExperts(s.frequency, s.logitSimilarity, K);
    dominants.push(dominant);
    slotMap.push(opts.method === "merge" ? group : group.map((g, e) => (g === e ? e : PRUNED_SLOT)));
    for (const d of dominant) {
      const members = opts.method === "merge" ? [d, ...group.flatMap((g, e) => (g === d && e !== d ? [e] : []))] : [d];
      const merged = mergeGroup(
        members.map((e) => src.expert(l, e)),
        members.map((e) => s.frequency[e]),
        D,
        F,
        opts.align ?? true,
      );
      for (const w of EXPERT_WEIGHTS)
        tensors[src.adapter.expert(src.decoderLayer(l), d, w)] = { data: merged[w], shape: w === "w2" ? [D, F] : [F, D] };
    }
  }
  writeCompressedCheckpoint(src, outDir, tensors, { expert_slot_map: slotMap });
  return { method: opts.method, slotMap, dominant: dominants, expertBytes: L * K * 3 * D * F * 4, f32ExpertBytes: L * E * 3 * D * F * 4 };
}
