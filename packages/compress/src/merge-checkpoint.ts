// Writes a merged (MC-SMoE M-SMoE) or frequency-pruned checkpoint with K stored experts per layer (K_l per
// layer with --grouping global, the paper's adaptive merging ratio, K on average). The gate keeps its E
// logits; config.json's expert_slot_map (packages/model/src/expert-slots.ts) sends each slot to the stored
// expert of its group (merge, replace) or masks it (prune: -1). Stored experts sit at their dominant slot's
// tensor names, so every tool addresses experts by slot as before. Methods, as in the reference code:
//   merge    the group's frequency-weighted average of aligned experts (M-SMoE);
//   prune    the reference's "drop": non-dominant slots are masked, top-k picks among the kept experts and
//            renormalises their weights (a token re-routes to its next best kept expert);
//   replace  the reference's "replace": a non-dominant slot keeps its logit and runs its group's dominant
//            expert unchanged (merge without the averaging: what the averaging contributes).
// Two picked slots of one group run the same stored expert with the sum of their weights (the reference
// binds the slots to one module); `collapse` is the share of calibration tokens this happens to.
//
// Letters (glossary: docs/ARCHITECTURE.md): L layers, E experts (gate slots), K stored experts per layer
// (merging's meaning), D hidden size, F expert hidden size.
import { EXPERT_WEIGHTS, type Checkpoint, type TensorToWrite } from "@expertmesh/model";
import { PRUNED_SLOT } from "@expertmesh/moe";
import { CompressError, nonExpertTensors, writeCompressedCheckpoint } from "./checkpoint-write.js";
import { groupCollapse, groupExperts, layerCounts, mergeGroup } from "./merge-experts.js";
import type { RoutingStats } from "./routing-stats.js";

export type ReduceMethod = "merge" | "prune" | "replace";
export type Grouping = "layer" | "global";
export const REDUCE_METHODS: readonly ReduceMethod[] = ["merge", "prune", "replace"];

export interface MergeOptions {
  expertsPerLayer: number; // K
  method: ReduceMethod;
  /** Permutation alignment before averaging (MC-SMoE); off only to measure what it contributes. */
  align?: boolean;
  /** "layer": K experts in every layer (default); "global": K on average, chosen across layers. */
  grouping?: Grouping;
}

export interface MergeReport {
  method: ReduceMethod;
  slotMap: number[][]; // [L][E]
  dominant: number[][]; // [L][K_l]
  /** [L] share of calibration tokens whose picks include two slots of one group (k = 2; pairs for k > 2). */
  collapse: number[];
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
  if (src.lowRank !== null) throw new CompressError(`${src.dir} is low-rank (low_rank_config); merge the f32 checkpoint, then decompose`);
  if (src.slotMap !== null) throw new CompressError(`${src.dir} is already merged or pruned (expert_slot_map in config.json)`);
}

export function mergeCheckpoint(src: Checkpoint, stats: RoutingStats, outDir: string, opts: MergeOptions): MergeReport {
  const K = opts.expertsPerLayer;
  checkMergeable(src, K);
  const { numLayers: L, numExperts: E, hiddenSize: D, intermediateSize: F } = src.config;
  const tensors: Record<string, TensorToWrite> = nonExpertTensors(src);
  const slotMap: number[][] = [];
  const dominants: number[][] = [];
  const collapse: number[] = [];
  const counts =
    opts.grouping === "global"
      ? layerCounts(
          stats.layers.map((s) => s.frequency),
          K,
          opts.method === "prune" ? src.config.topK : 1,
        )
      : new Array<number>(L).fill(K);
  for (let l = 0; l < L; l++) {
    const s = stats.layers[l];
    if (s.logitSimilarity === null) throw new CompressError(`layer ${l}: no router logits in the statistics`);
    const { dominant, group } = groupExperts(s.frequency, s.logitSimilarity, counts[l]);
    dominants.push(dominant);
    slotMap.push(opts.method === "prune" ? group.map((g, e) => (g === e ? e : PRUNED_SLOT)) : group);
    collapse.push(opts.method === "prune" ? 0 : groupCollapse(group, s.coSelection));
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
  const stored = counts.reduce((a, b) => a + b, 0);
  return {
    method: opts.method,
    slotMap,
    dominant: dominants,
    collapse,
    expertBytes: stored * 3 * D * F * 4,
    f32ExpertBytes: L * E * 3 * D * F * 4,
  };
}
