import type { GraphBuilder } from "../onnx/graph-builder.js";

/** RMSNorm over the last axis: weight * x / sqrt(mean(x^2) + eps). `weight` is an initializer [D]. */
export function rmsNorm(g: GraphBuilder, x: string, weight: string, eps: number): string {
  const ms = g.op("ReduceMean", [g.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
  const inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [ms, g.scalar(eps, "eps")])])]);
  return g.op("Mul", [g.op("Mul", [x, inv]), weight], {}, "rmsnorm");
}
