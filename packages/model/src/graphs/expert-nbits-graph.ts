// One quantised SwiGLU expert as an ONNX graph whose low-bit weights are initializers, so that
// onnxruntime's com.microsoft MatMulNBits kernel prepacks them once at session creation and each run
// reads the packed codes (weights that are graph inputs would be dequantised on every run):
// y = w2(silu(w1 x) * (w3 x)).
//
// input  x [N, D]      initializers  w1, w3 [F, D] and w2 [D, F] in the nbits layout      output  y [N, D]
import { GraphBuilder } from "../onnx/graph-builder.js";
import type { NbitsExpert } from "../quant/nbits-expert.js";
import type { NbitsWeight } from "../quant/nbits-layout.js";

/**
 * accuracy_level of MatMulNBits: 0 computes in f32 from dequantised blocks; 4 quantises the activations
 * to int8 per block and uses integer dot products (faster on CPU, a small extra error).
 */
export type NbitsAccuracy = 0 | 4;

export function buildNbitsExpertGraph(D: number, _F: number, w: NbitsExpert, accuracy: NbitsAccuracy): Uint8Array {
  const g = new GraphBuilder("expert_nbits");
  const x = g.input("x", "float32", ["N", D]);
  const matmul = (a: string, m: NbitsWeight, hint: string) => {
    const s = m.shape;
    const inputs = [
      g.initializer(`${hint}_q`, m.qweight, [s.N, s.blocks, s.blobBytes]),
      g.initializer(`${hint}_s`, m.scales, [s.N * s.blocks]),
      g.initializer(`${hint}_z`, m.qzeros, [s.N * s.zeroBytes]),
    ];
    return g.op("com.microsoft:MatMulNBits", [a, ...inputs], {
      K: s.K,
      N: s.N,
      bits: s.bits,
      block_size: s.groupSize,
      accuracy_level: accuracy,
    });
  };
  const a = matmul(x, w.w1, "w1"); // [N, F]
  const b = matmul(x, w.w3, "w3");
  const act = g.op("Mul", [g.op("Mul", [a, g.op("Sigmoid", [a])]), b]);
  g.output(matmul(act, w.w2, "w2"), "y", "float32", ["N", D]);
  return g.build();
}
