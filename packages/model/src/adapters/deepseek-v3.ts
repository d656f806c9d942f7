// transformers DeepseekV3ForCausalLM (models/deepseek_v3/modeling_deepseek_v3.py, configuration_deepseek_v3.py);
// Kimi-K2 ships the same architecture with model_type "kimi_k2".
// DeepseekV3Attention (multi-head latent attention): q = q_proj(x), or q_b_proj(q_a_layernorm(q_a_proj(x)))
// when q_lora_rank is set; each head's q splits into [qk_nope_head_dim | qk_rope_head_dim];
// kv_a_proj_with_mqa(x) splits into a latent [kv_lora_rank] and one shared rope key [qk_rope_head_dim];
// kv_b_proj(kv_a_layernorm(latent)) gives per head [k_nope | v (v_head_dim)]; RoPE on the rope parts only,
// with rope_interleave (default true) de-interleaving them first (apply_rotary_pos_emb_interleave);
// key = [k_nope | rope key], softmax scale qk_head_dim^-0.5, times yarn_get_mscale(factor,
// mscale_all_dim)^2 under YaRN. q_a_layernorm and kv_a_layernorm use eps 1e-6 (DeepseekV3RMSNorm's
// default), not rms_norm_eps. Layers i < first_k_dense_replace are dense MLPs of intermediate_size.
// DeepseekV3TopkRouter: sigmoid of fp32 logits, e_score_correction_bias for selection only, n_group
// groups ranked by the sum of their two best biased scores, topk_group kept, top-k; weights = unbiased
// scores, renormalised (+1e-20) if norm_topk_prob, times routed_scaling_factor. DeepseekV3MoE adds
// `mlp.shared_experts`, an MLP of moe_intermediate_size * n_shared_experts, ungated.
import { HF_PROJ, llamaLayout, type FamilyAdapter } from "./adapter.js";
import { readCommon, readRope } from "./config-reader.js";

/** DeepSeek's RMSNorm default eps, used where the module is built without config.rms_norm_eps. */
export const MLA_NORM_EPS = 1e-6;

function yarnMscale(scale: number, mscale: number): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

export const deepseekV3Adapter: FamilyAdapter = {
  architecture: "DeepseekV3ForCausalLM",
  modelTypes: ["deepseek_v3", "kimi_k2"],
  config(r) {
    const c = readCommon(r, { rmsNormEps: 1e-6 });
    const numExperts = r.int("n_routed_experts");
    const topK = r.int("num_experts_per_tok");
    if (topK > numExperts) r.fail("num_experts_per_tok", `${topK} exceeds n_routed_experts ${numExperts}`);
    const groups = r.int("n_group", 8);
    const topKGroups = r.int("topk_group", 4);
    if (numExperts % groups) r.fail("n_group", `${groups} does not divide n_routed_experts ${numExperts}`);
    if (topKGroups > groups) r.fail("topk_group", `${topKGroups} exceeds n_group ${groups}`);
    if (groups > 1 && numExperts / groups < 2)
      r.fail("n_group", `each of the ${groups} groups needs at least 2 experts (groups are ranked by their two best)`);
    if (topK > (numExperts / groups) * topKGroups)
      r.fail("num_experts_per_tok", `${topK} exceeds the ${(numExperts / groups) * topKGroups} experts of the topk_group kept groups`);
    const dense = r.count("first_k_dense_replace", 3);
    if (dense >= c.numHiddenLayers)
      r.fail("first_k_dense_replace", `${dense} leaves no MoE layer among num_hidden_layers ${c.numHiddenLayers}`);
    const moeLayers = Array.from({ length: c.numHiddenLayers - dense }, (_, i) => dense + i);
    const nopeDim = r.int("qk_nope_head_dim");
    const ropeDim = r.int("qk_rope_head_dim");
    const valueDim = r.int("v_head_dim");
    const kvLoraRank = r.int("kv_lora_rank");
    const rope = readRope(r, ropeDim, { interleave: r.bool("rope_interleave", true), thetaDefault: 10000 });
    let attentionScale = 1 / Math.sqrt(nopeDim + ropeDim);
    if (rope.yarn?.mscaleAllDim) attentionScale *= yarnMscale(rope.yarn.factor, rope.yarn.mscaleAllDim) ** 2;
    const shared = r.count("n_shared_experts", 1);
    const moeF = r.int("moe_intermediate_size");
    return {
      ...c,
      numKvHeads: 1, // the cache holds one latent per token (graphs/attention-mla.ts)
      numExperts,
      topK,
      intermediateSize: moeF,
      numLayers: moeLayers.length,
      moeLayers,
      denseIntermediateSize: dense > 0 ? r.int("intermediate_size") : 0,
      headDim: kvLoraRank + ropeDim,
      valueHeadDim: kvLoraRank,
      attention: {
        kind: "mla",
        qLoraRank: r.intOrNull("q_lora_rank"),
        kvLoraRank,
        nopeDim,
        ropeDim,
        valueDim,
        bias: r.bool("attention_bias", false),
      },
      attentionScale,
      rope,
      gate: {
        scoring: "sigmoid",
        normalize: r.bool("norm_topk_prob", true),
        groups,
        topKGroups,
        scale: r.num("routed_scaling_factor", 2.5),
        selectionBias: true,
      },
      sharedExperts: shared > 0 ? { intermediateSize: moeF * shared, gated: false } : null,
    };
  },
  ...llamaLayout(),
  gate: (l) => `model.layers.${l}.mlp.gate.weight`,
  gateBias: (l) => `model.layers.${l}.mlp.gate.e_score_correction_bias`,
  expert: (l, e, w) => `model.layers.${l}.mlp.experts.${e}.${HF_PROJ[w]}.weight`,
  sharedExpert: (l, w) => `model.layers.${l}.mlp.shared_experts.${HF_PROJ[w]}.weight`,
};
