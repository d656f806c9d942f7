// What a tier holds of one expert: its f32 weights, or its low-bit weights in the MatMulNBits layout.
// Shards move payloads between threads (disk worker → host tier → compute worker) without decoding them.
import type { Checkpoint, ExpertWeights } from "../checkpoint.js";
import { CheckpointError } from "../errors.js";
import type { NbitsWeight } from "./nbits-layout.js";
import type { NbitsExpert } from "./nbits-expert.js";

export type ExpertPayload = ExpertWeights | NbitsExpert;

export function isNbitsExpert(p: ExpertPayload): p is NbitsExpert {
  return (p as NbitsExpert).bits !== undefined;
}

/** The expert as the checkpoint stores it. */
export function readExpertPayload(ckpt: Checkpoint, layer: number, expert: number): ExpertPayload {
  if (ckpt.lowRank !== null)
    throw new CheckpointError(ckpt.dir, "low-rank plus sparse experts (low_rank_config) are served in process only, not by expert shards");
  return ckpt.quantization === null ? ckpt.expert(layer, expert) : ckpt.nbitsExpert(layer, expert);
}

/** A copy whose arrays each own their whole buffer, and those buffers (to transfer to another thread). */
export function transferablePayload(p: ExpertPayload): { payload: ExpertPayload; buffers: ArrayBuffer[] } {
  const buffers: ArrayBuffer[] = [];
  const own = <T extends Float32Array | Uint8Array>(a: T): T => {
    const c = a.slice() as T;
    buffers.push(c.buffer as ArrayBuffer);
    return c;
  };
  if (!isNbitsExpert(p)) return { payload: { w1: own(p.w1), w3: own(p.w3), w2: own(p.w2) }, buffers };
  const w = (m: NbitsWeight): NbitsWeight => ({ shape: m.shape, qweight: own(m.qweight), scales: own(m.scales), qzeros: own(m.qzeros) });
  return { payload: { bits: p.bits, w1: w(p.w1), w3: w(p.w3), w2: w(p.w2) }, buffers };
}
