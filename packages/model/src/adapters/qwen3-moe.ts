// transformers Qwen3MoeForCausalLM (models/qwen3_moe/modeling_qwen3_moe.py, configuration_qwen3_moe.py):
// Qwen3MoeAttention: q/k/v/o projections with bias = attention_bias, then q_norm / k_norm, an RMSNorm over
// each head's head_dim (weights [Dh]), before RoPE; head_dim from the config (default hidden/heads).
// Qwen3MoeSparseMoeBlock: `mlp.gate` [E, D], softmax in fp32, top-k, renormalised only if norm_topk_prob
// (default false); experts `mlp.experts.{e}.gate_proj|up_proj|down_proj` of moe_intermediate_size.
// No shared expert. Dense layers (mlp_only_layers, decoder_sparse_step) are Qwen3MoeMLP(intermediate_size).
import { HF_PROJ, llamaLayout, type FamilyAdapter } from "./adapter.js";
import { readCommon, readRope } from "./config-reader.js";
import { qwenMoeLayers, readExperts, refuseSlidingWindow } from "./qwen-layers.js";

export const qwen3MoeAdapter: FamilyAdapter = {
  architecture: "Qwen3MoeForCausalLM",
  modelTypes: ["qwen3_moe"],
  config(r) {
    const c = readCommon(r, { rmsNormEps: 1e-6 });
    refuseSlidingWindow(r);
    const headDim = r.has("head_dim") ? r.int("head_dim") : c.hiddenSize / c.numHeads;
    if (!Number.isInteger(headDim)) r.fail("head_dim", `hidden_size ${c.hiddenSize} is not divisible by num_attention_heads ${c.numHeads}`);
    const moeLayers = qwenMoeLayers(r, c.numHiddenLayers);
    const bias = r.bool("attention_bias", false);
    return {
      ...c,
      ...readExperts(r),
      intermediateSize: r.int("moe_intermediate_size"),
      numLayers: moeLayers.length,
      moeLayers,
      denseIntermediateSize: moeLayers.length < c.numHiddenLayers ? r.int("intermediate_size") : 0,
      headDim,
      valueHeadDim: headDim,
      attention: { kind: "gqa", qkvBias: bias, outputBias: bias, qkNorm: "head", clipQkv: null },
      attentionScale: 1 / Math.sqrt(headDim),
      rope: readRope(r, headDim, { interleave: false, thetaDefault: 10000 }),
      gate: { scoring: "softmax", normalize: r.bool("norm_topk_prob", false), groups: 1, topKGroups: 1, scale: 1, selectionBias: false },
      sharedExperts: null,
    };
  },
  ...llamaLayout(),
  gate: (l) => `model.layers.${l}.mlp.gate.weight`,
  expert: (l, e, w) => `model.layers.${l}.mlp.experts.${e}.${HF_PROJ[w]}.weight`,
};
