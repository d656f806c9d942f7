// A SwiGLU MLP whose weights are graph initializers (dense layers and shared experts in the dense part):
// y = w2(silu(w1 x) * (w3 x)), x [.., D], w1, w3 [F, D], w2 [D, F], optionally scaled by sigmoid(wg x),
// wg [1, D] (Qwen2-MoE's shared-expert gate).
import type { GraphBuilder } from "../onnx/graph-builder.js";
import { transpose2d } from "./transpose.js";

export interface MlpWeights {
  w1: Float32Array;
  w3: Float32Array;
  w2: Float32Array;
  /** [1, D] sigmoid gate of the whole output. */
  gate?: Float32Array;
}

export function swigluMlp(g: GraphBuilder, x: string, w: MlpWeights, D: number, F: number): string {
  const t = (m: Float32Array, rows: number, cols: number) => g.initializer("mlp_w", transpose2d(m, rows, cols), [cols, rows]);
  const a = g.op("MatMul", [x, t(w.w1, F, D)]);
  const b = g.op("MatMul", [x, t(w.w3, F, D)]);
  const y = g.op("MatMul", [g.op("Mul", [g.op("Mul", [a, g.op("Sigmoid", [a])]), b]), t(w.w2, D, F)]);
  if (!w.gate) return y;
  return g.op("Mul", [y, g.op("Sigmoid", [g.op("MatMul", [x, g.initializer("mlp_gate", w.gate, [D, 1])])])]);
}
