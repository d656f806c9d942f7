import type { GraphBuilder } from "../onnx/graph-builder.js";

/**
 * RMSNorm over the last axis: weight * x / sqrt(mean(x^2) + eps). `weight` is an initializer [D]. One
 * onnxruntime SimplifiedLayerNormalization node (its CPU kernel accumulates in fp32, as torch does), where
 * the seven elementwise ops it replaces cost a kernel launch each per step.
 */
export function rmsNorm(g: GraphBuilder, x: string, weight: string, eps: number): string {
  return g.op("SimplifiedLayerNormalization", [x, weight], { axis: -1, epsilon: { f: eps }, stash_type: 1 }, "rmsnorm");
}
