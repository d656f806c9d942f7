// The seam between MoeRuntime and the two ways of computing a step: "fused" (forward-fused.ts: the
// experts inside the layer graphs, for experts held in this process) and "seam" (forward-seam.ts: the
// experts behind an ExpertRunner, which may be expert shards in other processes).
import type { DynamicPruning } from "@expertmesh/moe";
import type { StepBatch, BatchInput } from "./step-batch.js";

/** Routing of one MoE layer (`layer` counts MoE layers) for the N valid tokens of a step, in batch order (sequence, then position). */
export interface LayerRouting {
  layer: number;
  experts: Int32Array; // [N, k]
  weights: Float32Array; // [N, k]
}

/** The input of one layer's MoE block for the N valid tokens of a step, in batch order (as LayerRouting). */
export interface MoeInput {
  layer: number;
  /** [N, D] the residual stream after the layer's attention (x + attention), before its MoE block. */
  residual: Float32Array;
  /** [N, D] the same after the post-attention RMSNorm: what the gate and the experts see. */
  normed: Float32Array;
}

export interface ForwardOptions {
  onRouting?: (routing: LayerRouting) => void;
  /** Online dynamic pruning (seam path only) and the counters it adds to. */
  pruning?: { settings: DynamicPruning; counters: { routed: number; skipped: number } };
  onMoeInput?: (input: MoeInput) => void;
  signal?: AbortSignal;
}

export interface ForwardPath {
  readonly name: "fused" | "seam";
  /** Runs the batch through every layer, appending KV to the caches (uncommitted); returns logits [R, V] of batch.headRows. */
  run(inputs: readonly BatchInput[], batch: StepBatch, options: ForwardOptions): Promise<Float32Array>;
  release(): Promise<void>;
}
