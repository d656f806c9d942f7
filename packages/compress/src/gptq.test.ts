import assert from "node:assert/strict";
import { test } from "node:test";
import { dequantizeNbits, quantizeNbits } from "@expertmesh/model";
import { seededRandom } from "@expertmesh/moe";
import { choleskyInverse, gptqNbits } from "./gptq.js";

test("choleskyInverse times the matrix is the identity (1e-9)", () => {
  const r = seededRandom(2);
  const K = 6,
    m = 20;
  const X = Array.from({ length: m * K }, () => r() - 0.5);
  const A = new Float64Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) for (let t = 0; t < m; t++) A[i * K + j] += X[t * K + i] * X[t * K + j];
  const inv = choleskyInverse(A, K);
  for (let i = 0; i < K; i++)
    for (let j = 0; j < K; j++) {
      let s = 0;
      for (let t = 0; t < K; t++) s += A[i * K + t] * inv[t * K + j];
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-9);
    }
});

test("GPTQ's output error ||X Wᵀ - X Ŵᵀ|| on correlated calibration inputs is below round-to-nearest's at 2 bits", () => {
  const r = seededRandom(7);
  const N = 16,
    K = 64,
    m = 256;
  const W = Float32Array.from({ length: N * K }, () => r() - 0.5);
  // Correlated inputs: x = z A with a random mixing A, so that compensation has something to exploit.
  const A = Array.from({ length: K * K }, () => r() - 0.5);
  const X = new Float32Array(m * K);
  for (let t = 0; t < m; t++) {
    const z = Array.from({ length: K }, () => r() - 0.5);
    for (let j = 0; j < K; j++) for (let i = 0; i < K; i++) X[t * K + j] += z[i] * A[i * K + j];
  }
  const outErr = (Wq: Float32Array) => {
    let e = 0;
    for (let t = 0; t < m; t++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += X[t * K + k] * (W[n * K + k] - Wq[n * K + k]);
        e += s * s;
      }
    return e;
  };
  const rtn = outErr(dequantizeNbits(quantizeNbits(W, N, K, 2, 32)));
  const gptq = outErr(dequantizeNbits(gptqNbits(W, N, K, X, m, 2, 32)));
  assert.ok(gptq < 0.8 * rtn, `GPTQ ${gptq} vs RTN ${rtn}`);
});
