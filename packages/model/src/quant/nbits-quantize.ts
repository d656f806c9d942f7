// Group-wise round-to-nearest quantisation of W [N, K] into the nbits layout: per block of G inputs an
// asymmetric grid of 2^b levels between the block's clipped minimum and maximum. The clip ratio is
// searched per block (1.0 down to 0.70 for b <= 4) for the smallest squared error, which helps most at
// 2 bits where outliers stretch the grid.
//
// Letters (glossary: docs/ARCHITECTURE.md): N output rows, K inputs (quantisation's meanings), G group size, Kb
// blocks per row, b bits.
import { nbitsShape, packCodes, type NbitsWeight } from "./nbits-layout.js";

const CLIP_RATIOS_LOW_BITS = [1, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7];

export function quantizeNbits(W: Float32Array, N: number, K: number, bits: number, groupSize: number): NbitsWeight {
  if (W.length !== N * K) throw new RangeError(`quantizeNbits: ${W.length} values for [${N}, ${K}]`);
  const shape = nbitsShape(N, K, bits, groupSize);
  const { blocks, blobBytes, zeroBytes } = shape;
  const G = groupSize;
  const qmax = (1 << bits) - 1;
  const qweight = new Uint8Array(N * blocks * blobBytes);
  const scales = new Float32Array(N * blocks);
  const qzeros = new Uint8Array(N * zeroBytes);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const start = n * K + b * G;
      const len = Math.min(G, K - b * G);
      const best = groupGrid(W.subarray(start, start + len), bits);
      scales[n * blocks + b] = best.scale;
      packCodes(qzeros, n * zeroBytes, b, best.zero, bits);
      const base = (n * blocks + b) * blobBytes;
      for (let j = 0; j < G; j++) {
        const q = j < len ? Math.min(qmax, Math.max(0, Math.round(W[start + j] / best.scale) + best.zero)) : best.zero;
        packCodes(qweight, base, j, q, bits);
      }
    }
  }
  return { shape, qweight, scales, qzeros };
}

/** The grid of one group of weights: the clip ratio with the least squared error (see the top of the file). */
export function groupGrid(values: Float32Array, bits: number): { scale: number; zero: number } {
  const qmax = (1 << bits) - 1;
  let lo = 0; // the grid always holds 0, so that the zero point is a code
  let hi = 0;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  let best = { err: Infinity, scale: 1, zero: 0 };
  for (const r of bits <= 4 ? CLIP_RATIOS_LOW_BITS : [1]) {
    const grid = blockGrid(lo * r, hi * r, qmax);
    let err = 0;
    for (const v of values) {
      const q = Math.min(qmax, Math.max(0, Math.round(v / grid.scale) + grid.zero));
      const d = (q - grid.zero) * grid.scale - v;
      err += d * d;
    }
    if (err < best.err) best = { err, ...grid };
  }
  return { scale: best.scale, zero: best.zero };
}

/** Scale and zero point of a grid of qmax+1 levels covering [lo, hi] ∋ 0 (an all-zero block gets scale 1). */
function blockGrid(lo: number, hi: number, qmax: number): { scale: number; zero: number } {
  const scale = hi > lo ? (hi - lo) / qmax : 1;
  return { scale, zero: Math.min(qmax, Math.max(0, Math.round(-lo / scale))) };
}
