// The model configuration, normalised from a Hugging Face config.json by the family's adapter (adapters/).
// Letters (glossary: docs/ARCHITECTURE.md): L MoE layers, E experts per layer, k experts per token, D hidden
// size, F expert hidden size, H attention heads, K key/value heads, Dh key head dimension, Dv value head
// dimension, V vocabulary. Decoder layers that are not MoE layers (dense MLP layers) are not counted in L.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { GateSpec } from "@expertmesh/moe";
import { parseFamilyConfig, SUPPORTED_ARCHITECTURES } from "./adapters/index.js";
import { CheckpointError } from "./errors.js";

/** Grouped-query attention (Mixtral, Qwen, OLMoE) or DeepSeek-V3's multi-head latent attention. */
export type AttentionSpec =
  | {
      readonly kind: "gqa";
      readonly qkvBias: boolean;
      readonly outputBias: boolean;
      /** RMSNorm of q and k: none, per head over Dh (Qwen3), or over the whole projection (OLMoE). */
      readonly qkNorm: "none" | "head" | "projection";
      /** Clamp q, k, v to [-c, c] after the norms (OLMoE's clip_qkv). */
      readonly clipQkv: number | null;
    }
  | {
      readonly kind: "mla";
      /** Low-rank query projection (q_a_proj, q_a_layernorm, q_b_proj), or null for one q_proj. */
      readonly qLoraRank: number | null;
      readonly kvLoraRank: number;
      readonly nopeDim: number;
      readonly ropeDim: number;
      /** v_head_dim: each head's output size (the cache holds the latent instead of values). */
      readonly valueDim: number;
      /** attention_bias: bias on q_a_proj, kv_a_proj_with_mqa and o_proj. */
      readonly bias: boolean;
    };

/** YaRN (transformers modeling_rope_utils._compute_yarn_parameters). */
export interface YarnSpec {
  readonly factor: number;
  readonly originalMaxPositions: number;
  readonly betaFast: number;
  readonly betaSlow: number;
  readonly mscale: number;
  readonly mscaleAllDim: number;
  readonly attentionFactor: number | null;
  readonly truncate: boolean;
}

export interface RopeSpec {
  readonly theta: number;
  /** Rotated dimensions per head (Dh, or MLA's qk_rope_head_dim). */
  readonly dim: number;
  /** Pairs stored interleaved (DeepSeek-V3 rope_interleave): de-interleaved before rotate-half. */
  readonly interleave: boolean;
  readonly yarn: YarnSpec | null;
}

/** Experts every token uses, computed in the router's dense part (not behind the ExpertRunner). */
export interface SharedExpertSpec {
  /** Hidden size of the shared SwiGLU MLP. */
  readonly intermediateSize: number;
  /** Scaled by sigmoid(shared_expert_gate · x) (Qwen2-MoE). */
  readonly gated: boolean;
}

export interface MoeConfig {
  architecture: string;
  modelType: string;
  vocabSize: number; // V
  hiddenSize: number; // D
  intermediateSize: number; // F, one routed expert's hidden size
  numLayers: number; // L, MoE layers
  numHiddenLayers: number; // decoder layers: the L MoE layers and the dense ones
  /** Decoder layer index of each MoE layer [L], ascending. */
  moeLayers: readonly number[];
  /** Hidden size of a dense layer's MLP (unused when every layer is an MoE layer). */
  denseIntermediateSize: number;
  numHeads: number; // H
  numKvHeads: number; // K, heads of the KV cache (1 for latent attention)
  headDim: number; // Dh, per-head key (and query) size as cached (MLA: latent + rope key, R + Dr)
  valueHeadDim: number; // Dv, per-head value size as cached (MLA: the latent, R)
  numExperts: number; // E
  topK: number; // k
  maxPositions: number;
  rmsNormEps: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  tieWordEmbeddings: boolean;
  attention: AttentionSpec;
  /** Multiplies q·k before the softmax. */
  attentionScale: number;
  rope: RopeSpec;
  gate: GateSpec;
  sharedExperts: SharedExpertSpec | null;
}

export { SUPPORTED_ARCHITECTURES };

export function readConfig(modelDir: string): MoeConfig {
  const file = join(modelDir, "config.json");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new CheckpointError(file, (e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : `unreadable: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return parseConfig(raw, file);
}

export function parseConfig(raw: Record<string, unknown>, file = "config.json"): MoeConfig {
  return Object.freeze(parseFamilyConfig(raw, file));
}
