// One SwiGLU expert as an ONNX graph, with the weights as inputs so that one session computes any expert
// whose weights it is handed: y = w2(silu(w1 x) * (w3 x)).
//
// inputs  x [N, D]   w1 [F, D]   w3 [F, D]   w2 [D, F]      output  y [N, D]
import { GraphBuilder } from "../onnx/graph-builder.js";

export function buildExpertGraph(D: number, F: number): Uint8Array {
  const g = new GraphBuilder("expert");
  const x = g.input("x", "float32", ["N", D]);
  const w1 = g.input("w1", "float32", [F, D]);
  const w3 = g.input("w3", "float32", [F, D]);
  const w2 = g.input("w2", "float32", [D, F]);
  const a = g.op("Gemm", [x, w1], { transB: 1 }); // [N, F]
  const b = g.op("Gemm", [x, w3], { transB: 1 });
  const act = g.op("Mul", [g.op("Mul", [a, g.op("Sigmoid", [a])]), b]);
  g.output(g.op("Gemm", [act, w2], { transB: 1 }), "y", "float32", ["N", D]);
  return g.build();
}
