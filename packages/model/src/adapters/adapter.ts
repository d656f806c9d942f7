// An adapter names a model family's tensors. Everything else in the runtime is family-agnostic; adding
// Qwen-MoE, OLMoE or DeepSeek-MoE is a new file here that maps the same roles to that family's names.
import type { MoeConfig } from "../config.js";

export type ExpertWeight = "w1" | "w2" | "w3"; // w2(silu(w1 x) * w3 x): w1, w3 [F, D], w2 [D, F]
export type AttentionWeight = "q" | "k" | "v" | "o";

export interface FamilyAdapter {
  architecture: string;
  embedTokens: string;
  finalNorm: string;
  lmHead(config: MoeConfig): string;
  inputNorm(layer: number): string;
  postAttentionNorm(layer: number): string;
  attention(layer: number, w: AttentionWeight): string;
  gate(layer: number): string;
  expert(layer: number, expert: number, w: ExpertWeight): string;
}
