// Rotary position embeddings, Mixtral / Llama convention ("rotate halves"): for a head vector x of size Dh,
// x' = x * cos + rotate_half(x) * sin, rotate_half(x) = [-x[Dh/2:], x[:Dh/2]], angle(p, i) = p * theta^(-2i/Dh),
// with cos/sin of the angles repeated over both halves.
import type { GraphBuilder } from "../onnx/graph-builder.js";

/** cos and sin tables [maxPositions, Dh], computed in fp32 steps as the PyTorch reference does. */
export function ropeTables(maxPositions: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / headDim));
  const cos = new Float32Array(maxPositions * headDim);
  const sin = new Float32Array(maxPositions * headDim);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
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
