// The seam for `expertmesh synth`: one SynthFamily per model family turns a geometry into that family's
// config.json and lists its tensors (names, shapes, initialisation); synth-write.ts does the rest (random
// values, dtype, safetensors shards, tokenizer) for every family alike. Adding a family is one file that
// implements this interface plus one line in synth-families.ts.
//
// Letters (glossary: docs/ARCHITECTURE.md): D hidden, F expert hidden, L layers, E experts, k experts per
// token, H heads, K kv heads, Dh head dim, V vocabulary.
import type { MoeConfig } from "../config.js";

/** Sizes chosen on the command line; any left out come from the --config-like config or the family's defaults. */
export interface SynthGeometry {
  hidden?: number; // D
  intermediate?: number; // F
  layers?: number; // L
  experts?: number; // E
  topK?: number; // k
  heads?: number; // H
  kvHeads?: number; // K
  headDim?: number; // Dh
  vocab?: number; // V
  maxPositions?: number;
}

export type SynthDType = "f32" | "bf16";
export const SYNTH_DTYPES: readonly SynthDType[] = ["f32", "bf16"];

/** How a tensor's values are drawn: all ones (norm weights) or uniform with mean 0 and this standard deviation. */
export type SynthInit = { kind: "ones" } | { kind: "uniform"; std: number };

export interface SynthTensor {
  name: string;
  shape: number[];
  init: SynthInit;
}

export interface SynthFamily {
  /** The --family value. */
  name: string;
  /** config.json's architectures[0], to pick the family of a --config-like config. */
  architecture: string;
  /**
   * The config.json to write: `base` (a --config-like config, or {}) with the geometry's keys set and the
   * family's defaults filled in. Throws InvalidInputError naming the size that is missing or invalid.
   */
  config(base: Readonly<Record<string, unknown>>, geometry: SynthGeometry, dtype: SynthDType): Record<string, unknown>;
  /** Every tensor of a checkpoint with this (parsed) config. */
  tensors(config: MoeConfig): SynthTensor[];
}
