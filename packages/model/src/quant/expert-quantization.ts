// Which experts of a checkpoint are stored in low bits, read from config.json:
//
//   "quantization_config": {
//     "quant_method": "expertmesh_nbits",       this layout (quant/nbits-layout.ts)
//     "group_size": 32,                          G
//     "expert_bits": [[4, 2, 8, ...], ...]       [L][E] the width of each expert (all its three weights)
//   }
//
// Everything outside the experts (attention, gate, norms, embeddings, head) stays f32.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import { KERNEL_BITS } from "./nbits-layout.js";

export const NBITS_METHOD = "expertmesh_nbits";

export interface ExpertQuantization {
  method: typeof NBITS_METHOD;
  groupSize: number;
  /** [L][E] bits of each expert. */
  bits: number[][];
}

/** The quantization of a checkpoint directory's experts, or null when they are f32. */
export function readExpertQuantization(dir: string, numLayers: number, numExperts: number): ExpertQuantization | null {
  const file = join(dir, "config.json");
  const raw = JSON.parse(readFileSync(file, "utf8")) as { quantization_config?: Record<string, unknown> };
  const q = raw.quantization_config;
  if (q == null) return null;
  if (q.quant_method !== NBITS_METHOD) {
    throw new ConfigError(
      file,
      "quantization_config.quant_method",
      `unsupported ${JSON.stringify(q.quant_method)} (supported: ${NBITS_METHOD})`,
    );
  }
  const G = q.group_size;
  if (typeof G !== "number" || !Number.isInteger(G) || G < 16 || (G & (G - 1)) !== 0) {
    throw new ConfigError(file, "quantization_config.group_size", `must be a power of two >= 16, got ${JSON.stringify(G)}`);
  }
  const bits = q.expert_bits;
  if (!Array.isArray(bits) || bits.length !== numLayers || bits.some((row) => !Array.isArray(row) || row.length !== numExperts)) {
    throw new ConfigError(file, "quantization_config.expert_bits", `must be ${numLayers} rows of ${numExperts} widths`);
  }
  for (const row of bits as unknown[][]) {
    for (const b of row) {
      if (!KERNEL_BITS.includes(b as number)) {
        throw new ConfigError(
          file,
          "quantization_config.expert_bits",
          `width ${JSON.stringify(b)} is not one the kernel runs (${KERNEL_BITS.join(", ")})`,
        );
      }
    }
  }
  return { method: NBITS_METHOD, groupSize: G, bits: bits as number[][] };
}

/** The three tensor names of a quantised weight whose f32 name is `weightName` (ending in `.weight`). */
export function nbitsTensorNames(weightName: string): { qweight: string; scales: string; qzeros: string } {
  const base = weightName.replace(/\.weight$/, "");
  return { qweight: `${base}.qweight`, scales: `${base}.scales`, qzeros: `${base}.qzeros` };
}
