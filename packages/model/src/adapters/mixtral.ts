import type { FamilyAdapter } from "./adapter.js";

/** transformers' MixtralForCausalLM: `model.layers.{i}.block_sparse_moe.*`. */
export const mixtralAdapter: FamilyAdapter = {
  architecture: "MixtralForCausalLM",
  embedTokens: "model.embed_tokens.weight",
  finalNorm: "model.norm.weight",
  lmHead: (c) => (c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"),
  inputNorm: (l) => `model.layers.${l}.input_layernorm.weight`,
  postAttentionNorm: (l) => `model.layers.${l}.post_attention_layernorm.weight`,
  attention: (l, w) => `model.layers.${l}.self_attn.${w}_proj.weight`,
  gate: (l) => `model.layers.${l}.block_sparse_moe.gate.weight`,
  expert: (l, e, w) => `model.layers.${l}.block_sparse_moe.experts.${e}.${w}.weight`,
};
