// The low-bit expert layout that `expertmesh compress quantize` writes and onnxruntime's com.microsoft
// MatMulNBits kernel reads as it is (no dequantisation at load). One weight W [N, K] (nn.Linear order: N
// outputs, K inputs; for an expert w1, w3 [F, D] and w2 [D, F]) quantised with b bits in groups of G
// consecutive inputs, asymmetric, is three tensors beside the weight's name without `.weight`:
//
//   {name}.qweight  U8  [N, Kb, G*b/8]   Kb = ceil(K / G) blocks per row; each block's G codes packed
//                                        LSB first (code j of a block at bits j*b .. j*b+b-1)
//   {name}.scales   F32 [N, Kb]          one scale per block
//   {name}.qzeros   U8  [N, ceil(Kb*b/8)] one b-bit zero point per block, packed LSB first per row
//
// W[n, k] ≈ (code - zero) * scale of k's block. Codes past K in the last block are the zero point.
// config.json says which experts have which width (see expert-quantization.ts); b ∈ {2, 4, 8}: the
// widths onnxruntime-node 1.30's CPU MatMulNBits kernel runs (it rejects 3 bits).
//
// Letters (glossary: docs/ARCHITECTURE.md): N output rows, K inputs (quantisation's meanings), G group size, Kb
// blocks per row, b bits.

export const KERNEL_BITS: readonly number[] = [2, 4, 8];

export interface NbitsShape {
  N: number;
  K: number;
  bits: number;
  groupSize: number; // G
  blocks: number; // Kb
  blobBytes: number; // G * b / 8
  zeroBytes: number; // per row
}

export function nbitsShape(N: number, K: number, bits: number, groupSize: number): NbitsShape {
  const blocks = Math.ceil(K / groupSize);
  return { N, K, bits, groupSize, blocks, blobBytes: (groupSize * bits) / 8, zeroBytes: Math.ceil((blocks * bits) / 8) };
}

/** Bytes of one quantised weight as stored (codes + scales + zero points). */
export function nbitsBytes(s: NbitsShape): number {
  return s.N * (s.blocks * s.blobBytes + s.blocks * 4 + s.zeroBytes);
}

export interface NbitsWeight {
  shape: NbitsShape;
  qweight: Uint8Array; // [N, Kb, G*b/8]
  scales: Float32Array; // [N, Kb]
  qzeros: Uint8Array; // [N, zeroBytes]
}

export function packCodes(out: Uint8Array, byteOffset: number, index: number, code: number, bits: number): void {
  const bit = index * bits;
  for (let t = 0; t < bits; t++) if ((code >> t) & 1) out[byteOffset + ((bit + t) >> 3)] |= 1 << ((bit + t) & 7);
}

export function unpackCode(data: Uint8Array, byteOffset: number, index: number, bits: number): number {
  const bit = index * bits;
  let v = 0;
  for (let t = 0; t < bits; t++) if ((data[byteOffset + ((bit + t) >> 3)] >> ((bit + t) & 7)) & 1) v |= 1 << t;
  return v;
}

/** W [N, K] as f32 from its low-bit form: the reference that the kernel's output is tested against. */
export function dequantizeNbits(w: NbitsWeight): Float32Array {
  const { N, K, bits, groupSize: G, blocks, blobBytes, zeroBytes } = w.shape;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const scale = w.scales[n * blocks + b];
      const zero = unpackCode(w.qzeros, n * zeroBytes, b, bits);
      const base = (n * blocks + b) * blobBytes;
      for (let j = 0; j < G && b * G + j < K; j++) out[n * K + b * G + j] = (unpackCode(w.qweight, base, j, bits) - zero) * scale;
    }
  }
  return out;
}
