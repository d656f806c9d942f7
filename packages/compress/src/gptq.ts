// GPTQ-style error compensation (Frantar et al. 2022) for one weight W [N, K] in the nbits layout: the
// columns (inputs) are quantised in order, and each column's rounding error is spread over the columns
// not yet quantised through the inverse Hessian of the layer's squared output error, H = 2/m · XᵀX (+1 %
// of its mean diagonal as dampening), X [m, K] the calibration inputs. A group's grid (scale, zero) is
// fixed when its first column comes up, from the weights as compensated so far (as GPTQ's act-order-free
// group variant does).
//
// Letters (glossary: docs/ARCHITECTURE.md): N output rows, K inputs (quantisation's meanings), m calibration
// rows, G group size, b bits.
import { groupGrid, nbitsShape, packCodes, type NbitsWeight } from "@expertmesh/model";

const DAMPENING = 0.01;

export function gptqNbits(W: Float32Array, N: number, K: number, X: Float32Array, m: number, bits: number, groupSize: number): NbitsWeight {
  if (W.length !== N * K || X.length !== m * K)
    throw new RangeError(`gptqNbits: W ${W.length} for [${N}, ${K}], X ${X.length} for [${m}, ${K}]`);
  const U = inverseHessianFactor(X, m, K);
  const shape = nbitsShape(N, K, bits, groupSize);
  const { blocks, blobBytes, zeroBytes } = shape;
  const G = groupSize;
  const qmax = (1 << bits) - 1;
  const w = Float64Array.from(W); // [N, K], compensated in place
  const qweight = new Uint8Array(N * blocks * blobBytes);
  const scales = new Float32Array(N * blocks);
  const qzeros = new Uint8Array(N * zeroBytes);
  const grid = new Array<{ scale: number; zero: number }>(N);
  for (let k = 0; k < K; k++) {
    const b = Math.floor(k / G);
    if (k % G === 0) {
      const len = Math.min(G, K - k);
      for (let n = 0; n < N; n++) {
        grid[n] = groupGrid(Float32Array.from(w.subarray(n * K + k, n * K + k + len)), bits);
        scales[n * blocks + b] = grid[n].scale;
        packCodes(qzeros, n * zeroBytes, b, grid[n].zero, bits);
      }
    }
    const d = U[k * K + k];
    for (let n = 0; n < N; n++) {
      const { scale, zero } = grid[n];
      const v = w[n * K + k];
      const q = Math.min(qmax, Math.max(0, Math.round(v / scale) + zero));
      packCodes(qweight, (n * blocks + b) * blobBytes, k % G, q, bits);
      const err = (v - (q - zero) * scale) / d;
      for (let j = k + 1; j < K; j++) w[n * K + j] -= err * U[k * K + j];
    }
  }
  // Codes past K in the last block are the zero point.
  for (let k = K; k < blocks * G; k++) {
    for (let n = 0; n < N; n++) packCodes(qweight, (n * blocks + blocks - 1) * blobBytes, k % G, grid[n].zero, bits);
  }
  return { shape, qweight, scales, qzeros };
}

/** U upper triangular [K, K] with H⁻¹ = UᵀU, H = 2/m · XᵀX dampened. */
function inverseHessianFactor(X: Float32Array, m: number, K: number): Float64Array {
  const H = new Float64Array(K * K);
  for (let r = 0; r < m; r++) {
    for (let i = 0; i < K; i++) {
      const xi = X[r * K + i];
      if (xi === 0) continue;
      for (let j = i; j < K; j++) H[i * K + j] += xi * X[r * K + j];
    }
  }
  let mean = 0;
  for (let i = 0; i < K; i++) {
    for (let j = i; j < K; j++) H[j * K + i] = H[i * K + j] = (2 / Math.max(1, m)) * H[i * K + j];
    mean += H[i * K + i] / K;
  }
  for (let i = 0; i < K; i++) H[i * K + i] += H[i * K + i] === 0 ? 1 : DAMPENING * (mean > 0 ? mean : 1);
  const Hinv = choleskyInverse(H, K);
  const C = cholesky(Hinv, K); // lower, Hinv = C Cᵀ
  const U = new Float64Array(K * K);
  for (let i = 0; i < K; i++) for (let j = i; j < K; j++) U[i * K + j] = C[j * K + i];
  return U;
}

/** Lower triangular L with A = L Lᵀ (A symmetric positive definite). */
export function cholesky(A: Float64Array, K: number): Float64Array {
  const L = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * K + j];
      for (let t = 0; t < j; t++) s -= L[i * K + t] * L[j * K + t];
      if (i === j) {
        if (!(s > 0)) throw new RangeError(`cholesky: matrix is not positive definite at ${i} (${s})`);
        L[i * K + i] = Math.sqrt(s);
      } else {
        L[i * K + j] = s / L[j * K + j];
      }
    }
  }
  return L;
}

/** A⁻¹ of a symmetric positive definite A through its Cholesky factor. */
export function choleskyInverse(A: Float64Array, K: number): Float64Array {
  const L = cholesky(A, K);
  // Linv = L⁻¹ (lower), A⁻¹ = Linvᵀ Linv.
  const Li = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    Li[i * K + i] = 1 / L[i * K + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let t = j; t < i; t++) s += L[i * K + t] * Li[t * K + j];
      Li[i * K + j] = -s / L[i * K + i];
    }
  }
  const out = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let t = i; t < K; t++) s += Li[t * K + i] * Li[t * K + j];
      out[i * K + j] = out[j * K + i] = s;
    }
  }
  return out;
}
