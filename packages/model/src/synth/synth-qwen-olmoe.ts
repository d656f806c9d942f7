// Qwen3-MoE, Qwen2-MoE and OLMoE for `expertmesh synth`: their HF config classes' keys (adapters/ and
// FAMILIES.md), every layer an MoE layer unless the base config's mlp_only_layers / decoder_sparse_step say
// otherwise, tensors from synth-tensors.ts. Defaults where the geometry leaves
// a size out: Qwen3-30B-A3B's proportions (head dim from the attention shape, norm_topk_prob true),
// Qwen1.5-MoE-A2.7B's (shared expert 4 F, qkv bias), OLMoE-1B-7B's (head dim D / H, no renormalisation).
import { olmoeAdapter } from "../adapters/olmoe.js";
import { qwen2MoeAdapter } from "../adapters/qwen2-moe.js";
import { qwen3MoeAdapter } from "../adapters/qwen3-moe.js";
import type { MoeConfig } from "../config.js";
import type { SynthFamily } from "./synth-family.js";
import { attentionShape, commonKeys, sizeReader, SYNTH_STD } from "./synth-sizes.js";
import { checkpointTensors } from "./synth-tensors.js";

const tensors = (c: MoeConfig) => checkpointTensors(c, SYNTH_STD);

export const qwen3MoeSynth: SynthFamily = {
  name: "qwen3_moe",
  architecture: qwen3MoeAdapter.architecture,
  config(base, g, dtype) {
    const size = sizeReader(base);
    const D = size("hidden", "hidden_size", g.hidden);
    const { heads, kvHeads, headDim } = attentionShape(base, g, D, size, true);
    const F = size("intermediate", "moe_intermediate_size", g.intermediate);
    return {
      ...base,
      architectures: [qwen3MoeAdapter.architecture],
      model_type: "qwen3_moe",
      ...commonKeys(base, g, size, dtype),
      hidden_size: D,
      num_hidden_layers: size("layers", "num_hidden_layers", g.layers),
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      head_dim: headDim,
      rms_norm_eps: base.rms_norm_eps ?? 1e-6,
      rope_theta: base.rope_theta ?? 1e6,
      attention_bias: base.attention_bias ?? false,
      use_sliding_window: false,
      sliding_window: null,
      moe_intermediate_size: F,
      intermediate_size: base.intermediate_size ?? 6 * F,
      decoder_sparse_step: base.decoder_sparse_step ?? 1,
      mlp_only_layers: base.mlp_only_layers ?? [],
      num_experts: size("experts", "num_experts", g.experts),
      num_experts_per_tok: size("top-k", "num_experts_per_tok", g.topK),
      norm_topk_prob: base.norm_topk_prob ?? true,
    };
  },
  tensors,
};

export const qwen2MoeSynth: SynthFamily = {
  name: "qwen2_moe",
  architecture: qwen2MoeAdapter.architecture,
  config(base, g, dtype) {
    const size = sizeReader(base);
    const D = size("hidden", "hidden_size", g.hidden);
    const { heads, kvHeads } = attentionShape(base, g, D, size, false);
    const F = size("intermediate", "moe_intermediate_size", g.intermediate);
    return {
      ...base,
      architectures: [qwen2MoeAdapter.architecture],
      model_type: "qwen2_moe",
      ...commonKeys(base, g, size, dtype),
      hidden_size: D,
      num_hidden_layers: size("layers", "num_hidden_layers", g.layers),
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      rms_norm_eps: base.rms_norm_eps ?? 1e-6,
      rope_theta: base.rope_theta ?? 1e6,
      use_sliding_window: false,
      qkv_bias: base.qkv_bias ?? true,
      moe_intermediate_size: F,
      shared_expert_intermediate_size: base.shared_expert_intermediate_size ?? 4 * F,
      intermediate_size: base.intermediate_size ?? 4 * F,
      decoder_sparse_step: base.decoder_sparse_step ?? 1,
      mlp_only_layers: base.mlp_only_layers ?? [],
      num_experts: size("experts", "num_experts", g.experts),
      num_experts_per_tok: size("top-k", "num_experts_per_tok", g.topK),
      norm_topk_prob: base.norm_topk_prob ?? false,
    };
  },
  tensors,
};

export const olmoeSynth: SynthFamily = {
  name: "olmoe",
  architecture: olmoeAdapter.architecture,
  config(base, g, dtype) {
    const size = sizeReader(base);
    const D = size("hidden", "hidden_size", g.hidden);
    const { heads, kvHeads } = attentionShape(base, g, D, size, false);
    return {
      ...base,
      architectures: [olmoeAdapter.architecture],
      model_type: "olmoe",
      ...commonKeys(base, g, size, dtype),
      hidden_size: D,
      num_hidden_layers: size("layers", "num_hidden_layers", g.layers),
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      rms_norm_eps: base.rms_norm_eps ?? 1e-5,
      rope_theta: base.rope_theta ?? 10000,
      attention_bias: base.attention_bias ?? false,
      clip_qkv: base.clip_qkv ?? null,
      intermediate_size: size("intermediate", "intermediate_size", g.intermediate),
      num_experts: size("experts", "num_experts", g.experts),
      num_experts_per_tok: size("top-k", "num_experts_per_tok", g.topK),
      norm_topk_prob: base.norm_topk_prob ?? false,
    };
  },
  tensors,
};
