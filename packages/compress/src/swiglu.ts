// The hidden activations of a SwiGLU expert on sampled inputs: what its w2 multiplies (GPTQ and the
// low-rank compressor calibrate w2 on them).
//
// Letters (glossary: docs/ARCHITECTURE.md): m rows, D hidden size, F expert hidden size.
import type { ExpertWeights } from "@expertmesh/model";

/** silu(w1 x) * (w3 x) [m, F] of x [m, D]: the inputs of w2. */
export function swigluActivations(w: ExpertWeights, x: Float32Array, m: number, D: number, F: number): Float32Array {
  const out = new Float32Array(m * F);
  for (let t = 0; t < m; t++) {
    for (let f = 0; f < F; f++) {
      let a = 0;
      let b = 0;
      for (let d = 0; d < D; d++) {
        a += w.w1[f * D + d] * x[t * D + d];
        b += w.w3[f * D + d] * x[t * D + d];
      }
      out[t * F + f] = (a / (1 + Math.exp(-a))) * b;
    }
  }
  return out;
}
