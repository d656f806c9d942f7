// Rotary position embeddings, Mixtral / Llama convention ("rotate halves"): for a head vector x of size Dh,
// x' = x * cos + rotate_half(x) * sin, rotate_half(x) = [-x[Dh/2:], x[:Dh/2]], angle(p, i) = p * invFreq[i],
// invFreq[i] = theta^(-2i/Dh) by default (rope-spec.ts has YaRN's), cos/sin repeated over both halves and
// multiplied by the attention factor (1 except under YaRN).
import type { GraphBuilder } from "../onnx/graph-builder.js";

/** The default inverse frequencies [Dh/2], in fp32 steps as transformers computes them. */
export function defaultInvFreq(headDim: number, theta: number): Float32Array {
  const invFreq = new Float32Array(headDim / 2);
  for (let i = 0; i < headDim / 2; i++) invFreq[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / headDim));
  return invFreq;
}

/** cos and sin tables [maxPositions, Dh], computed in fp32 steps as the PyTorch reference does. */
export function ropeTables(
  maxPositions: number,
  headDim: number,
  theta: number,
  invFreq = defaultInvFreq(headDim, theta),
  attentionFactor = 1,
): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(maxPositions * headDim);
  const sin = new Float32Array(maxPositions * headDim);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]);
      const c = Math.fround(Math.cos(angle)) * attentionFactor;
      const s = Math.fround(Math.sin(angle)) * attentionFactor;
      cos[p * headDim + i] = cos[p * headDim + half + i] = c;
      sin[p * headDim + i] = sin[p * headDim + half + i] = s;
    }
  }
  return { cos, sin };
}

/** Applies the rotation to `x` [B, heads, S, Dh] given cos/sin broadcastable to it ([B, 1, S, Dh]). */
export function applyRope(g: GraphBuilder, x: string, cos: string, sin: string, headDim: number): string {
  const half = headDim / 2;
  const [x1, x2] = g.opN("Split", [x, g.ints([half, half])], 2, { axis: 3 });
  const rotated = g.op("Concat", [g.op("Neg", [x2]), x1], { axis: 3 });
  return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rotated, sin])], {}, "rope");
}

/**
 * DeepSeek-V3's interleaved layout (transformers apply_rotary_pos_emb_interleave): x [B, heads, S, Dh]
 * viewed as [.., Dh/2, 2] and transposed, so that the even dimensions come first, then the odd ones.
 */
export function deinterleave(g: GraphBuilder, x: string, headDim: number): string {
  const pairs = g.op("Reshape", [x, g.ints([0, 0, 0, headDim / 2, 2])]);
  return g.op("Reshape", [g.op("Transpose", [pairs], { perm: [0, 1, 2, 4, 3] }), g.ints([0, 0, 0, headDim])]);
}
