// Low rank plus structured sparsity of one weight W [N, K] (MC-SMoE's "compress" step, training-free
// here: the paper trains its decomposition with LoSparse; this fits it on calibration statistics):
//   1. activation-scaled truncated SVD: with s_k = sqrt(E[x_k²]) over the weight's calibration inputs,
//      the top-r SVD of W·diag(s) (randomized subspace iteration, then an exact Jacobi SVD of the small
//      projected matrix) gives B [N, r] and A = A'·diag(1/s) [r, K], so that B·A minimises the output
//      error E‖(W - B·A)x‖² when the inputs' coordinates are uncorrelated (s = 1 without inputs: plain SVD);
//   2. structured sparsity of the residual R = W - B·A: keep the c whole input columns of largest
//      s_k² · ‖R[:, k]‖² (the output error each column adds), zero the rest.
//
// Letters (glossary: docs/ARCHITECTURE.md): N output rows, K inputs (quantisation's meanings), r rank, p
// oversampling (this file's meaning), m = r + p, c kept columns.
import { seededRandom } from "@expertmesh/moe";
import type { LowRankWeight } from "@expertmesh/model";

const OVERSAMPLE = 8;
const POWER_ITERATIONS = 4;

/** E[x_k²]^(1/2) over rows x [rows, K], or all ones when there are no rows. */
export function inputScales(x: Float32Array, rows: number, K: number): Float64Array {
  const s = new Float64Array(K).fill(rows > 0 ? 0 : 1);
  if (rows === 0) return s;
  for (let t = 0; t < rows; t++) for (let k = 0; k < K; k++) s[k] += x[t * K + k] ** 2;
  for (let k = 0; k < K; k++) s[k] = Math.sqrt(s[k] / rows) || 1e-12;
  return s;
}

export function lowRankSparse(
  W: Float32Array,
  N: number,
  K: number,
  rank: number,
  columns: number,
  scale: Float64Array,
  seed = 1,
): LowRankWeight {
  if (!(Number.isInteger(rank) && rank >= 0 && rank <= Math.min(N, K)))
    throw new RangeError(`rank must be in 0..${Math.min(N, K)}, got ${rank}`);
  if (!(Number.isInteger(columns) && columns >= 0 && columns <= K))
    throw new RangeError(`sparse columns must be in 0..${K}, got ${columns}`);
  const Ws = new Float64Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) Ws[n * K + k] = W[n * K + k] * scale[k];
  const a = new Float32Array(rank * K);
  const b = new Float32Array(N * rank);
  if (rank > 0) {
    const { Q, U, m } = topSubspace(Ws, N, K, rank, seed);
    // B = Q·U_r [N, r]; A' = U_rᵀ·Qᵀ·Ws [r, K]; A = A'·diag(1/s).
    const QtW = new Float64Array(m * K);
    for (let i = 0; i < m; i++)
      for (let n = 0; n < N; n++) {
        const q = Q[n * m + i];
        if (q !== 0) for (let k = 0; k < K; k++) QtW[i * K + k] += q * Ws[n * K + k];
      }
    for (let j = 0; j < rank; j++) {
      for (let n = 0; n < N; n++) {
        let v = 0;
        for (let i = 0; i < m; i++) v += Q[n * m + i] * U[i * m + j];
        b[n * rank + j] = v;
      }
      for (let k = 0; k < K; k++) {
        let v = 0;
        for (let i = 0; i < m; i++) v += U[i * m + j] * QtW[i * K + k];
        a[j * K + k] = v / scale[k];
      }
    }
  }
  // Residual columns by the output error they add.
  const R = new Float64Array(N * K);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      let v = W[n * K + k];
      for (let j = 0; j < rank; j++) v -= b[n * rank + j] * a[j * K + k];
      R[n * K + k] = v;
    }
  const score = Array.from({ length: K }, (_, k) => {
    let s = 0;
    for (let n = 0; n < N; n++) s += R[n * K + k] ** 2;
    return [s * scale[k] ** 2, k] as const;
  });
  score.sort((x, y) => y[0] - x[0] || x[1] - y[1]);
  const cols = Int32Array.from(score.slice(0, columns).map((x) => x[1])).sort();
  const values = new Float32Array(N * columns);
  for (let n = 0; n < N; n++) for (let j = 0; j < columns; j++) values[n * columns + j] = R[n * K + cols[j]];
  return { N, K, rank, a, b, cols, values };
}

/**
 * Q [N, m] orthonormal spanning (nearly) W's top-m left singular subspace, and the eigenvectors U [m, m]
 * (columns, by descending eigenvalue) of (QᵀW)(QᵀW)ᵀ: Q·U's first r columns are W's top-r left singular vectors.
 */
function topSubspace(W: Float64Array, N: number, K: number, r: number, seed: number): { Q: Float64Array; U: Float64Array; m: number } {
  const m = Math.min(r + OVERSAMPLE, N, K);
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const omega = Float64Array.from({ length: K * m }, gauss); // [K, m]
  let Q = mul(W, N, K, omega, m); // [N, m]
  orthonormalize(Q, N, m);
  for (let it = 0; it < POWER_ITERATIONS; it++) {
    const Z = mulT(W, N, K, Q, m); // Wᵀ·Q [K, m]
    orthonormalize(Z, K, m);
    Q = mul(W, N, K, Z, m);
    orthonormalize(Q, N, m);
  }
  const QtW = mulT2(Q, N, m, W, K); // [m, K]
  const G = new Float64Array(m * m);
  for (let i = 0; i < m; i++)
    for (let j = i; j < m; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += QtW[i * K + k] * QtW[j * K + k];
      G[i * m + j] = G[j * m + i] = s;
    }
  return { Q, U: jacobiEigenvectors(G, m), m };
}

/** W [N, K] · X [K, m]. */
function mul(W: Float64Array, N: number, K: number, X: Float64Array, m: number): Float64Array {
  const out = new Float64Array(N * m);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const w = W[n * K + k];
      if (w !== 0) for (let j = 0; j < m; j++) out[n * m + j] += w * X[k * m + j];
    }
  return out;
}

/** Wᵀ [K, N] · X [N, m]. */
function mulT(W: Float64Array, N: number, K: number, X: Float64Array, m: number): Float64Array {
  const out = new Float64Array(K * m);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const w = W[n * K + k];
      if (w !== 0) for (let j = 0; j < m; j++) out[k * m + j] += w * X[n * m + j];
    }
  return out;
}

/** Qᵀ [m, N] · W [N, K]. */
function mulT2(Q: Float64Array, N: number, m: number, W: Float64Array, K: number): Float64Array {
  const out = new Float64Array(m * K);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < m; i++) {
      const q = Q[n * m + i];
      if (q !== 0) for (let k = 0; k < K; k++) out[i * K + k] += q * W[n * K + k];
    }
  return out;
}

/** Orthonormalises the m columns of X [R, m] in place (modified Gram-Schmidt, twice). */
function orthonormalize(X: Float64Array, R: number, m: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < j; i++) {
        let d = 0;
        for (let t = 0; t < R; t++) d += X[t * m + i] * X[t * m + j];
        for (let t = 0; t < R; t++) X[t * m + j] -= d * X[t * m + i];
      }
      let norm = 0;
      for (let t = 0; t < R; t++) norm += X[t * m + j] ** 2;
      norm = Math.sqrt(norm);
      for (let t = 0; t < R; t++) X[t * m + j] = norm > 1e-300 ? X[t * m + j] / norm : 0;
    }
  }
}

/** Eigenvectors [m, m] (columns) of a symmetric matrix by cyclic Jacobi rotations, by descending eigenvalue. */
export function jacobiEigenvectors(A0: Float64Array, m: number): Float64Array {
  const A = Float64Array.from(A0);
  const V = new Float64Array(m * m);
  for (let i = 0; i < m; i++) V[i * m + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < m; p++) for (let q = p + 1; q < m; q++) off += A[p * m + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = A[p * m + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * m + q] - A[p * m + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < m; k++) {
          const akp = A[k * m + p];
          const akq = A[k * m + q];
          A[k * m + p] = c * akp - s * akq;
          A[k * m + q] = s * akp + c * akq;
        }
        for (let k = 0; k < m; k++) {
          const apk = A[p * m + k];
          const aqk = A[q * m + k];
          A[p * m + k] = c * apk - s * aqk;
          A[q * m + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < m; k++) {
          const vkp = V[k * m + p];
          const vkq = V[k * m + q];
          V[k * m + p] = c * vkp - s * vkq;
          V[k * m + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => A[j * m + j] - A[i * m + i]);
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) out[i * m + j] = V[i * m + order[j]];
  return out;
}
