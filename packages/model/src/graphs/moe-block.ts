// A whole MoE block as one node: onnxruntime's com.microsoft MoE contrib operator (CPU kernel in
// onnxruntime 1.30), with the gate's logits as its router input. The operator applies the gate itself
// (softmax over the E logits, top-k, and renormalise when the spec says so: normalize_routing_weights),
// computes each chosen expert on the rows routed to it and sums the weighted outputs. Gates it cannot
// express (sigmoid scoring, groups, a selection bias, a scale: DeepSeek-V3) stay on the seam path. Its SwiGLU is
// silu(alpha * a) * (b + beta) with a, b interleaved rows of fc1; alpha = 1, beta = 0 and no clamp give
// Mixtral's w2(silu(w1 x) * (w3 x)). Ties between equal gate probabilities go to the higher expert
// index here and to the lower one in @expertmesh/moe's gate: exact ties do not happen with real logits.
//
// Letters: B sequences, S tokens, D hidden, F expert hidden, E experts, k experts per token.
//
// inputs   hn [B, S, D]   gate_logits [B, S, E]
//          fc1 [E, 2F, D] (row 2f = w1[f], row 2f + 1 = w3[f])   fc2 [E, D, F] (w2)
// output   [B, S, D] the weighted sum of the k chosen experts' outputs
import type { GateSpec } from "@expertmesh/moe";
import type { MoeConfig } from "../config.js";
import type { GraphBuilder } from "../onnx/graph-builder.js";

/** Whether the operator computes this gate exactly as @expertmesh/moe's route does. */
export function moeOperatorSupports(gate: GateSpec): boolean {
  return gate.scoring === "softmax" && gate.groups === 1 && !gate.selectionBias && gate.scale === 1;
}

export function addMoeBlock(g: GraphBuilder, c: MoeConfig, hn: string, gateLogits: string, fc1: string, fc2: string): string {
  const rows = g.op("Reshape", [hn, g.ints([-1, c.hiddenSize])]); // [B*S, D]
  const logits = g.op("Reshape", [gateLogits, g.ints([-1, c.numExperts])]); // [B*S, E]
  if (!moeOperatorSupports(c.gate)) throw new RangeError(`addMoeBlock: the MoE operator cannot compute the gate ${JSON.stringify(c.gate)}`);
  const [y] = g.opN("com.microsoft:MoE", [rows, logits, fc1, "", fc2], 1, {
    k: c.topK,
    activation_type: "swiglu",
    swiglu_fusion: 1,
    normalize_routing_weights: c.gate.normalize ? 1 : 0,
    activation_alpha: { f: 1 },
    activation_beta: { f: 0 },
    swiglu_limit: { f: 3e38 },
  });
  return g.op("Reshape", [y, g.op("Shape", [hn])]);
}

/** Mixtral's experts of one layer in the operator's layout: fc1 [E, 2F, D] (w1, w3 rows interleaved), fc2 [E, D, F]. */
export function stackExperts(
  experts: readonly { w1: Float32Array; w3: Float32Array; w2: Float32Array }[],
  D: number,
  F: number,
): { fc1: Float32Array; fc2: Float32Array } {
  const E = experts.length;
  const fc1 = new Float32Array(E * 2 * F * D);
  const fc2 = new Float32Array(E * D * F);
  experts.forEach((w, e) => {
    for (let f = 0; f < F; f++) {
      fc1.set(w.w1.subarray(f * D, f * D + D), (e * 2 * F + 2 * f) * D);
      fc1.set(w.w3.subarray(f * D, f * D + D), (e * 2 * F + 2 * f + 1) * D);
    }
    fc2.set(w.w2, e * D * F);
  });
  return { fc1, fc2 };
}
