// DeepSeek-V3 (and Kimi-K2, the same architecture) for `expertmesh synth`: DeepseekV3Config's keys, --layers
// MoE layers after first_k_dense_replace dense ones (the base config's, else 1), multi-head latent
// attention sized from DeepSeek-V3's proportions where the geometry and base leave a size out
// (kv_lora_rank 512 and q_lora_rank 1536 at D = 7168, scaled with D; nope/rope/v head dims 128/64/128,
// halved until they fit D / H), expert groups of DeepSeek-V3 (8, keep 4) where E allows them, one
// shared expert, routed_scaling_factor 2.5, YaRN only when the base config has it.
import { deepseekV3Adapter } from "../adapters/deepseek-v3.js";
import type { MoeConfig } from "../config.js";
import { InvalidInputError } from "../errors.js";
import type { SynthFamily } from "./synth-family.js";
import { attentionShape, commonKeys, sizeReader, SYNTH_STD } from "./synth-sizes.js";
import { checkpointTensors } from "./synth-tensors.js";

export const deepseekV3Synth: SynthFamily = {
  name: "deepseek_v3",
  architecture: deepseekV3Adapter.architecture,
  config(base, g, dtype) {
    const size = sizeReader(base);
    const D = size("hidden", "hidden_size", g.hidden);
    const { heads } = attentionShape(base, g, D, size, true);
    const fit = (key: string, full: number) => {
      if (g.hidden === undefined && typeof base[key] === "number") return base[key] as number;
      let v = full;
      while (v > 8 && v * heads > 2 * D) v /= 2;
      return v;
    };
    const rank = (key: string, atFull: number) =>
      g.hidden === undefined && typeof base[key] === "number"
        ? (base[key] as number)
        : Math.max(8, Math.round((atFull * D) / 7168 / 8) * 8);
    const E = size("experts", "n_routed_experts", g.experts);
    const k = size("top-k", "num_experts_per_tok", g.topK);
    const baseGroups = typeof base.n_group === "number" && E % base.n_group === 0 ? base.n_group : undefined;
    let groups = baseGroups ?? (E % 8 === 0 && E >= 16 ? 8 : 1);
    let keep = baseGroups !== undefined && typeof base.topk_group === "number" ? base.topk_group : Math.max(1, groups / 2);
    if (k > (E / groups) * keep) [groups, keep] = [1, 1];
    const dense = typeof base.first_k_dense_replace === "number" ? base.first_k_dense_replace : 1;
    const moeLayers = g.layers ?? (typeof base.num_hidden_layers === "number" ? base.num_hidden_layers - dense : undefined);
    if (moeLayers === undefined)
      throw new InvalidInputError("layers", "is required (or --config-like DIR with num_hidden_layers in its config.json)");
    const F = size("intermediate", "moe_intermediate_size", g.intermediate);
    const modelType = deepseekV3Adapter.modelTypes.includes(String(base.model_type)) ? base.model_type : "deepseek_v3";
    return {
      ...base,
      architectures: [deepseekV3Adapter.architecture],
      model_type: modelType,
      ...commonKeys(base, g, size, dtype),
      hidden_size: D,
      num_hidden_layers: moeLayers + dense,
      first_k_dense_replace: dense,
      num_attention_heads: heads,
      num_key_value_heads: heads,
      q_lora_rank: "q_lora_rank" in base && g.hidden === undefined ? base.q_lora_rank : rank("q_lora_rank", 1536),
      kv_lora_rank: rank("kv_lora_rank", 512),
      qk_nope_head_dim: fit("qk_nope_head_dim", 128),
      qk_rope_head_dim: fit("qk_rope_head_dim", 64),
      v_head_dim: fit("v_head_dim", 128),
      rope_interleave: base.rope_interleave ?? true,
      rope_theta: base.rope_theta ?? 10000,
      rope_scaling: base.rope_scaling ?? null,
      attention_bias: base.attention_bias ?? false,
      rms_norm_eps: base.rms_norm_eps ?? 1e-6,
      moe_intermediate_size: F,
      intermediate_size: base.intermediate_size ?? 8 * F,
      n_routed_experts: E,
      num_experts_per_tok: k,
      n_group: groups,
      topk_group: keep,
      n_shared_experts: base.n_shared_experts ?? 1,
      routed_scaling_factor: base.routed_scaling_factor ?? 2.5,
      norm_topk_prob: base.norm_topk_prob ?? true,
    };
  },
  tensors: (c: MoeConfig) => checkpointTensors(c, SYNTH_STD),
};
