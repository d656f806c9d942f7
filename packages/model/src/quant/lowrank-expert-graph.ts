// One low-rank plus structured-sparse SwiGLU expert (lowrank-layout.ts) as an ONNX graph whose factors are
// initializers: each weight W ≈ B·A + S computes x·Aᵀ·Bᵀ + gather(x, cols)·S_colsᵀ, r·(N + K) + c·N
// multiply-adds per row instead of N·K. y = w2(silu(w1 x) * (w3 x)).
//
// input  x [N, D]      initializers  the four tensors of w1, w3 [F, D] and w2 [D, F]      output  y [N, D]
import { GraphBuilder } from "../onnx/graph-builder.js";
import type { LowRankExpert, LowRankWeight } from "./lowrank-layout.js";
import { transpose2d as transposed } from "../graphs/transpose.js";

export function buildLowRankExpertGraph(D: number, w: LowRankExpert): Uint8Array {
  const g = new GraphBuilder("expert_lowrank");
  const x = g.input("x", "float32", ["N", D]);
  const matmul = (input: string, m: LowRankWeight, hint: string) => {
    const c = m.cols.length;
    const terms: string[] = [];
    if (m.rank > 0) {
      const at = g.initializer(`${hint}_at`, transposed(m.a, m.rank, m.K), [m.K, m.rank]);
      const bt = g.initializer(`${hint}_bt`, transposed(m.b, m.N, m.rank), [m.rank, m.N]);
      terms.push(g.op("MatMul", [g.op("MatMul", [input, at]), bt]));
    }
    if (c > 0) {
      const cols = g.initializer(
        `${hint}_cols`,
        BigInt64Array.from(m.cols, (j) => BigInt(j)),
        [c],
      );
      const st = g.initializer(`${hint}_st`, transposed(m.values, m.N, c), [c, m.N]);
      terms.push(g.op("MatMul", [g.op("Gather", [input, cols], { axis: 1 }), st]));
    }
    if (terms.length === 0) throw new RangeError(`${hint}: a weight of rank 0 with no sparse columns computes nothing`);
    return terms.length === 1 ? terms[0] : g.op("Add", terms);
  };
  const a = matmul(x, w.w1, "w1"); // [N, F]
  const b = matmul(x, w.w3, "w3");
  const act = g.op("Mul", [g.op("Mul", [a, g.op("Sigmoid", [a])]), b]);
  g.output(matmul(act, w.w2, "w2"), "y", "float32", ["N", D]);
  return g.build();
}
