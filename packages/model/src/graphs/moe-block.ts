// A whole MoE block as one node: onnxruntime's com.microsoft MoE contrib operator (CPU kernel in
// onnxruntime 1.30), with the gate's logits as its router input. The operator applies the gate itself
// (softmax over the E logits, top-k, and renormalise when the spec says so: normalize_routing_weights),
// computes each chosen expert on the rows routed to it and sums the weighted outputs. Gates it cannot
// express (sigmoid scoring, groups, a selection bias, a scale: DeepSeek-V3) stay on the seam path. Its SwiGLU is
// silu(alpha * a) * (b + beta) with a, b interleaved rows of fc1; alpha = 1, beta = 0 and no clamp give
// Mixtral's w2(silu(w1 x) * (w3 x)). Ties between equal gate probabilities go to the higher expert
// index here and to the lower one in @expertmesh/moe's gate: exact ties do not happen with real logits.
//
//
// Parts (for more than one thread): the kernel deals whole experts to its threads in contiguous blocks
// and runs each expert's matrix products on one thread, so at batch 1 a token's k experts often land on
// one thread while the other idles. With `parts` P > 1 every expert is cut into P slices of its hidden
// F (SwiGLU is elementwise in f, so an expert's output is the sum of its slices' outputs): slice p of
// expert e is operator expert p·E + e, the gate logits are repeated P times (each expert's P slices get
// equal probabilities, and top-kP picks all slices of the top k experts), and fc2 is scaled by P to undo
// the P-fold split of each expert's weight. The threads' blocks then hold slice p of every expert: each
// thread computes its slice of every chosen expert. Scaling by a power of two is exact; the sums are
// reassociated (within float rounding of P = 1).
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences, S new tokens, D hidden, F expert hidden, E experts, k
// experts per token, P parts (this file's meaning).
//
// inputs   hn [B, S, D]   gate_logits [B, S, E]
//          fc1 [P·E, 2F/P, D] (in slice p of expert e, row 2f = w1[pF/P + f], row 2f + 1 = w3[pF/P + f])
//          fc2 [P·E, D, F/P] (P·w2[:, slice])
// output   [B, S, D] the weighted sum of the k chosen experts' outputs
import type { GateSpec } from "@expertmesh/moe";
import type { MoeConfig } from "../config.js";
import type { GraphBuilder } from "../onnx/graph-builder.js";

/** Whether the operator computes this gate exactly as @expertmesh/moe's route does. */
export function moeOperatorSupports(gate: GateSpec): boolean {
  return gate.scoring === "softmax" && gate.groups === 1 && !gate.selectionBias && gate.scale === 1;
}

export function addMoeBlock(g: GraphBuilder, c: MoeConfig, hn: string, gateLogits: string, fc1: string, fc2: string, parts = 1): string {
  const rows = g.op("Reshape", [hn, g.ints([-1, c.hiddenSize])]); // [B*S, D]
  const logits = g.op("Reshape", [gateLogits, g.ints([-1, c.numExperts])]); // [B*S, E]
  if (!moeOperatorSupports(c.gate)) throw new RangeError(`addMoeBlock: the MoE operator cannot compute the gate ${JSON.stringify(c.gate)}`);
  const router = parts > 1 ? g.op("Concat", Array<string>(parts).fill(logits), { axis: 1 }) : logits; // [B*S, P·E]
  const [y] = g.opN("com.microsoft:MoE", [rows, router, fc1, "", fc2], 1, {
    k: c.topK * parts,
    activation_type: "swiglu",
    swiglu_fusion: 1,
    normalize_routing_weights: c.gate.normalize ? 1 : 0,
    activation_alpha: { f: 1 },
    activation_beta: { f: 0 },
    swiglu_limit: { f: 3e38 },
  });
  return g.op("Reshape", [y, g.op("Shape", [hn])]);
}

/**
 * Mixtral's experts of one layer in the operator's layout, each cut into `parts` slices of F (see the
 * note above; parts 1: fc1 [E, 2F, D] with w1, w3 rows interleaved, fc2 [E, D, F]).
 */
export function stackExperts(
  experts: readonly { w1: Float32Array; w3: Float32Array; w2: Float32Array }[],
  D: number,
  F: number,
  parts = 1,
): { fc1: Float32Array; fc2: Float32Array } {
  const E = experts.length;
  if (!Number.isInteger(parts) || parts < 1 || F % parts !== 0)
    throw new RangeError(`stackExperts: parts must be a positive integer that divides F = ${F}, got ${parts}`);
  const Fp = F / parts;
  const fc1 = new Float32Array(E * 2 * F * D);
  const fc2 = new Float32Array(E * D * F);
  experts.forEach((w, e) => {
    for (let f = 0; f < F; f++) {
      const slice = (Math.floor(f / Fp) * E + e) * 2 * Fp; // first fc1 row of the slice that holds f
      fc1.set(w.w1.subarray(f * D, f * D + D), (slice + 2 * (f % Fp)) * D);
      fc1.set(w.w3.subarray(f * D, f * D + D), (slice + 2 * (f % Fp) + 1) * D);
    }
    if (parts === 1) fc2.set(w.w2, e * D * F);
    else
      for (let p = 0; p < parts; p++) {
        const out = (p * E + e) * D * Fp;
        for (let d = 0; d < D; d++) for (let f = 0; f < Fp; f++) fc2[out + d * Fp + f] = parts * w.w2[d * F + p * Fp + f];
      }
  });
  return { fc1, fc2 };
}
