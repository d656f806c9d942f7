// A family adapter: how one Hugging Face architecture's config.json maps to the normalised MoeConfig and
// how its modules name their tensors. Layer arguments are decoder layer indices. Adding a family is one
// file here plus one line in the registry (index.ts); FAMILIES.md records where each convention comes from.
import type { MoeConfig } from "../config.js";
import type { ConfigReader } from "./config-reader.js";

/** SwiGLU weights w2(silu(w1 x) * w3 x): w1, w3 [F, D], w2 [D, F] (HF gate_proj, up_proj, down_proj). */
export type ExpertWeight = "w1" | "w2" | "w3";

export interface FamilyAdapter {
  architecture: string;
  /** The config's model_type values this adapter accepts (Kimi-K2 is DeepSeek-V3 under another name). */
  modelTypes: readonly string[];
  config(r: ConfigReader): Omit<MoeConfig, "architecture" | "modelType">;
  embedTokens: string;
  finalNorm: string;
  lmHead(config: MoeConfig): string;
  inputNorm(layer: number): string;
  postAttentionNorm(layer: number): string;
  /** `model.layers.{layer}.self_attn.{module}.{param}`-style names (q_proj, q_norm, kv_b_proj, ...). */
  attention(layer: number, module: string, param?: "weight" | "bias"): string;
  gate(layer: number): string;
  /** The selection-only correction bias [E] (families whose gate spec has one). */
  gateBias?(layer: number): string;
  expert(layer: number, expert: number, w: ExpertWeight): string;
  sharedExpert?(layer: number, w: ExpertWeight): string;
  /** The shared expert's sigmoid gate [1, D]. */
  sharedExpertGate?(layer: number): string;
  denseMlp(layer: number, w: ExpertWeight): string;
}

/** Names shared by the families whose modules follow Llama's layout (`model.layers.{i}.self_attn`, `.mlp`). */
export const HF_PROJ: Record<ExpertWeight, string> = { w1: "gate_proj", w2: "down_proj", w3: "up_proj" };

export function llamaLayout(): Pick<
  FamilyAdapter,
  "embedTokens" | "finalNorm" | "lmHead" | "inputNorm" | "postAttentionNorm" | "attention" | "denseMlp"
> {
  return {
    embedTokens: "model.embed_tokens.weight",
    finalNorm: "model.norm.weight",
    lmHead: (c) => (c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"),
    inputNorm: (l) => `model.layers.${l}.input_layernorm.weight`,
    postAttentionNorm: (l) => `model.layers.${l}.post_attention_layernorm.weight`,
    attention: (l, m, p = "weight") => `model.layers.${l}.self_attn.${m}.${p}`,
    denseMlp: (l, w) => `model.layers.${l}.mlp.${HF_PROJ[w]}.weight`,
  };
}

/** All decoder layers are MoE layers. */
export function allLayers(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
