// One quantised expert: its three weights w1, w3 [F, D] and w2 [D, F] in the low-bit layout
// (nbits-layout.ts), read from a checkpoint and checked against the shapes the config implies.
//
// Letters (glossary: docs/ARCHITECTURE.md): D hidden size, F expert hidden size, G group size, b bits.
import type { Checkpoint } from "../checkpoint.js";
import type { ExpertWeight } from "../adapters/index.js";
import { TensorError } from "../errors.js";
import { nbitsTensorNames, type ExpertQuantization } from "./expert-quantization.js";
import { nbitsBytes, nbitsShape, type NbitsShape, type NbitsWeight } from "./nbits-layout.js";

export interface NbitsExpert {
  bits: number;
  w1: NbitsWeight; // [F, D]
  w3: NbitsWeight; // [F, D]
  w2: NbitsWeight; // [D, F]
}

export const EXPERT_WEIGHTS: readonly ExpertWeight[] = ["w1", "w3", "w2"];

/** [N, K] of an expert weight in nn.Linear order. */
export function expertWeightShape(w: ExpertWeight, D: number, F: number): [number, number] {
  return w === "w2" ? [D, F] : [F, D];
}

export function expertNbitsBytes(D: number, F: number, bits: number, groupSize: number): number {
  return EXPERT_WEIGHTS.reduce((a, w) => a + nbitsBytes(nbitsShape(...expertWeightShape(w, D, F), bits, groupSize)), 0);
}

export function readNbitsExpert(ckpt: Checkpoint, layer: number, expert: number, q: ExpertQuantization): NbitsExpert {
  const { hiddenSize: D, intermediateSize: F } = ckpt.config;
  const bits = q.bits[layer][expert];
  const read = (w: ExpertWeight): NbitsWeight => {
    const shape = nbitsShape(...expertWeightShape(w, D, F), bits, q.groupSize);
    const names = nbitsTensorNames(ckpt.adapter.expert(ckpt.decoderLayer(layer), expert, w));
    return {
      shape,
      qweight: take(ckpt, names.qweight, "U8", [shape.N, shape.blocks, shape.blobBytes]) as Uint8Array,
      scales: take(ckpt, names.scales, "F32", [shape.N, shape.blocks]) as Float32Array,
      qzeros: take(ckpt, names.qzeros, "U8", [shape.N, shape.zeroBytes]) as Uint8Array,
    };
  };
  return { bits, w1: read("w1"), w3: read("w3"), w2: read("w2") };
}

function take(ckpt: Checkpoint, name: string, dtype: "U8" | "F32", shape: number[]): Uint8Array | Float32Array {
  const { info, data, file } = ckpt.rawTensor(name);
  if (info.dtype !== dtype) throw new TensorError(name, file, `dtype ${info.dtype}, the low-bit layout stores ${dtype}`);
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new TensorError(name, file, `shape [${info.shape}] but the quantization_config implies [${shape}]`);
  }
  return data as Uint8Array | Float32Array;
}

export type { NbitsShape };
