import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "@expertmesh/moe";
import { reconstructLowRank } from "@expertmesh/model";
import { inputScales, jacobiEigenvectors, lowRankSparse } from "./low-rank.js";

const r = seededRandom(3);
const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

function randomMatrix(N: number, K: number): Float32Array {
  return Float32Array.from({ length: N * K }, gauss);
}

/** Eigenvalues of WᵀW [K, K] by the same Jacobi solver on the full (not projected) matrix: the optimal tail. */
function optimalTail(W: Float32Array, N: number, K: number, rank: number): number {
  const G = new Float64Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) for (let n = 0; n < N; n++) G[i * K + j] += W[n * K + i] * W[n * K + j];
  const V = jacobiEigenvectors(G, K);
  const eig = Array.from({ length: K }, (_, j) => {
    let s = 0;
    for (let i = 0; i < K; i++) for (let k = 0; k < K; k++) s += V[i * K + j] * G[i * K + k] * V[k * K + j];
    return s;
  });
  return eig.slice(rank).reduce((a, b) => a + b, 0);
}

const frob = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);

test("Jacobi eigenvectors diagonalise a symmetric matrix (1e-9), eigenvalues descending", () => {
  const m = 7;
  const B = randomMatrix(m, m);
  const A = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) A[i * m + j] = B[i * m + j] + B[j * m + i];
  const V = jacobiEigenvectors(A, m);
  const lambda: number[] = [];
  for (let j = 0; j < m; j++) {
    let l = 0;
    for (let i = 0; i < m; i++) for (let k = 0; k < m; k++) l += V[i * m + j] * A[i * m + k] * V[k * m + j];
    lambda.push(l);
    for (let i = 0; i < m; i++) {
      let av = 0;
      for (let k = 0; k < m; k++) av += A[i * m + k] * V[k * m + j];
      assert.ok(Math.abs(av - l * V[i * m + j]) < 1e-9, `A v = λ v, column ${j}`);
    }
  }
  for (let j = 1; j < m; j++) assert.ok(lambda[j] <= lambda[j - 1] + 1e-12);
});

test("the rank-r factor reaches the optimal (Eckart-Young) error within 1e-3, and all columns give W back (1e-5)", () => {
  const [N, K, rank] = [40, 24, 6];
  // A decaying spectrum, as trained weights have: U diag(s) Vᵀ plus noise.
  const W = new Float32Array(N * K);
  for (let j = 0; j < K; j++) {
    const u = randomMatrix(N, 1);
    const v = randomMatrix(1, K);
    const s = 2 ** -j;
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) W[n * K + k] += s * u[n] * v[k];
  }
  const ones = new Float64Array(K).fill(1);
  const lr = lowRankSparse(W, N, K, rank, 0, ones);
  const err = frob(W, reconstructLowRank(lr));
  const best = optimalTail(W, N, K, rank);
  assert.ok(err <= best * (1 + 1e-3) + 1e-9, `error ${err}, optimal ${best}`);
  const full = reconstructLowRank(lowRankSparse(W, N, K, rank, K, ones));
  for (const [i, v] of full.entries()) assert.ok(Math.abs(v - W[i]) < 1e-5, `value ${i}`);
  const some = lowRankSparse(W, N, K, rank, 5, ones);
  assert.equal(some.cols.length, 5);
  assert.ok(frob(W, reconstructLowRank(some)) < err, "kept residual columns lower the error");
});

test("activation scaling lowers the output error when the inputs' coordinates differ in size", () => {
  const [N, K, rank, rows] = [32, 16, 4, 200];
  const W = randomMatrix(N, K);
  const x = new Float32Array(rows * K);
  for (let t = 0; t < rows; t++) for (let k = 0; k < K; k++) x[t * K + k] = gauss() * (k < 4 ? 10 : 0.1);
  const outErr = (approx: Float32Array) => {
    let s = 0;
    for (let t = 0; t < rows; t++)
      for (let n = 0; n < N; n++) {
        let d = 0;
        for (let k = 0; k < K; k++) d += (W[n * K + k] - approx[n * K + k]) * x[t * K + k];
        s += d * d;
      }
    return s;
  };
  const scaled = outErr(reconstructLowRank(lowRankSparse(W, N, K, rank, 0, inputScales(x, rows, K))));
  const plain = outErr(reconstructLowRank(lowRankSparse(W, N, K, rank, 0, new Float64Array(K).fill(1))));
  assert.ok(scaled < plain * 0.5, `scaled ${scaled} vs plain ${plain}`);
  assert.throws(() => lowRankSparse(W, N, K, 17, 0, inputScales(x, rows, K)), /rank must be in 0\.\.16, got 17/);
});
