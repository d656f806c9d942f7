// One SwiGLU expert as an ONNX graph: y = w2(silu(w1 x) * (w3 x)). buildExpertGraph takes the weights as
// inputs, so that one session computes any expert whose weights it is handed; buildOwnExpertGraph holds
// one expert's weights as initializers, which onnxruntime prepacks once at session creation (each run
// then passes only x: measured on D=128/F=256, 20 vs 27 us per run at 1 row, 32 vs 52 at 8, 84 vs 106 at 32).
//
// inputs  x [N, D]   w1 [F, D]   w3 [F, D]   w2 [D, F]      output  y [N, D]
import { GraphBuilder } from "../onnx/graph-builder.js";

export function buildExpertGraph(D: number, F: number): Uint8Array {
  const g = new GraphBuilder("expert");
  const x = g.input("x", "float32", ["N", D]);
  const w1 = g.input("w1", "float32", [F, D]);
  const w3 = g.input("w3", "float32", [F, D]);
  const w2 = g.input("w2", "float32", [D, F]);
  return swiglu(g, D, x, w1, w3, w2);
}

/** The expert with weights w1, w3 [F, D] and w2 [D, F] as initializers: input x [N, D], output y [N, D]. */
export function buildOwnExpertGraph(
  D: number,
  F: number,
  w: { readonly w1: Float32Array; readonly w3: Float32Array; readonly w2: Float32Array },
): Uint8Array {
  const g = new GraphBuilder("expert_own");
  const x = g.input("x", "float32", ["N", D]);
  return swiglu(g, D, x, g.initializer("w1", w.w1, [F, D]), g.initializer("w3", w.w3, [F, D]), g.initializer("w2", w.w2, [D, F]));
}

function swiglu(g: GraphBuilder, D: number, x: string, w1: string, w3: string, w2: string): Uint8Array {
  const a = g.op("Gemm", [x, w1], { transB: 1 }); // [N, F]
  const b = g.op("Gemm", [x, w3], { transB: 1 });
  const act = g.op("Mul", [g.op("Mul", [a, g.op("Sigmoid", [a])]), b]);
  g.output(g.op("Gemm", [act, w2], { transB: 1 }), "y", "float32", ["N", D]);
  return g.build();
}
