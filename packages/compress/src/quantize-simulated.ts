// Uniform quantisation at a width the kernel lacks (3 bits: onnxruntime's MatMulNBits CPU kernel rejects
// it), simulated numerically for perplexity comparisons: every stored expert is quantised group-wise by
// RTN at `bits` (the same quantiser and layout as quantize-checkpoint.ts) and written back dequantised as
// f32, so the model computes with exactly the values a b-bit checkpoint would hold. Its expert bytes are
// what the nbits layout would store (codes, scales, zero points); its speed is f32's, so benches report no
// decode figure for it. Not a servable low-bit checkpoint: config.json says it was simulated.
//
// Letters (glossary: docs/ARCHITECTURE.md): L layers, E experts, D hidden size, F expert hidden size, G group
// size, b bits.
import {
  dequantizeNbits,
  EXPERT_WEIGHTS,
  expertNbitsBytes,
  expertWeightShape,
  quantizeNbits,
  type Checkpoint,
  type TensorToWrite,
} from "@expertmesh/model";
import { CompressError, nonExpertTensors, writeCompressedCheckpoint } from "./checkpoint-write.js";
import { DEFAULT_GROUP_SIZE, SIMULATED_QUANTIZATION_KEY } from "./quantize-checkpoint.js";

export { SIMULATED_QUANTIZATION_KEY };

export interface SimulatedQuantizeReport {
  bits: number;
  groupSize: number;
  /** Bytes the stored experts would take in the nbits layout. */
  expertBytes: number;
  f32ExpertBytes: number;
}

export function simulateUniformQuantization(
  src: Checkpoint,
  outDir: string,
  bits: number,
  groupSize = DEFAULT_GROUP_SIZE,
): SimulatedQuantizeReport {
  if (!(Number.isInteger(bits) && bits >= 2 && bits <= 8))
    throw new CompressError(`simulated width must be an integer in 2..8, got ${bits}`);
  if (src.quantization !== null) throw new CompressError(`${src.dir} is already quantized; simulate on the f32 checkpoint`);
  if (!(Number.isInteger(groupSize) && groupSize >= 16 && (groupSize & (groupSize - 1)) === 0))
    throw new CompressError(`group size must be a power of two >= 16, got ${groupSize}`);
  const { numLayers: L, numExperts: E, hiddenSize: D, intermediateSize: F } = src.config;
  const tensors: Record<string, TensorToWrite> = nonExpertTensors(src);
  let stored = 0;
  for (let l = 0; l < L; l++) {
    for (let e = 0; e < E; e++) {
      if (!src.isStored(l, e)) continue;
      stored++;
      const x = src.expert(l, e);
      for (const w of EXPERT_WEIGHTS) {
        const [N, K] = expertWeightShape(w, D, F);
        tensors[src.adapter.expert(src.decoderLayer(l), e, w)] = {
          data: dequantizeNbits(quantizeNbits(x[w], N, K, bits, groupSize)),
          shape: [N, K],
        };
      }
    }
  }
  writeCompressedCheckpoint(src, outDir, tensors, { [SIMULATED_QUANTIZATION_KEY]: { method: "rtn", bits, group_size: groupSize } });
  return { bits, groupSize, expertBytes: stored * expertNbitsBytes(D, F, bits, groupSize), f32ExpertBytes: stored * 3 * D * F * 4 };
}
