// transformers Qwen2MoeForCausalLM (models/qwen2_moe/modeling_qwen2_moe.py, configuration_qwen2_moe.py):
// Qwen2MoeAttention: q/k/v with bias = qkv_bias (default true), o_proj without bias, no q/k norm,
// head_dim = hidden/heads. Qwen2MoeSparseMoeBlock: softmax in fp32, top-k, renormalised only if
// norm_topk_prob (default false); plus `mlp.shared_expert` (an MLP of shared_expert_intermediate_size)
// scaled by sigmoid(`mlp.shared_expert_gate` · x), [1, D], added to the routed experts' sum.
import { HF_PROJ, llamaLayout, type FamilyAdapter } from "./adapter.js";
import { readCommon, readRope } from "./config-reader.js";
import { qwenMoeLayers, readExperts, refuseSlidingWindow } from "./qwen-layers.js";

export const qwen2MoeAdapter: FamilyAdapter = {
  architecture: "Qwen2MoeForCausalLM",
  modelTypes: ["qwen2_moe"],
  config(r) {
    const c = readCommon(r, { rmsNormEps: 1e-6 });
    refuseSlidingWindow(r);
    const headDim = c.hiddenSize / c.numHeads;
    if (!Number.isInteger(headDim)) r.fail("num_attention_heads", `${c.numHeads} does not divide hidden_size ${c.hiddenSize}`);
    const moeLayers = qwenMoeLayers(r, c.numHiddenLayers);
    return {
      ...c,
      ...readExperts(r),
      intermediateSize: r.int("moe_intermediate_size"),
      numLayers: moeLayers.length,
      moeLayers,
      denseIntermediateSize: moeLayers.length < c.numHiddenLayers ? r.int("intermediate_size") : 0,
      headDim,
      valueHeadDim: headDim,
      attention: { kind: "gqa", qkvBias: r.bool("qkv_bias", true), outputBias: false, qkNorm: "none", clipQkv: null },
      attentionScale: 1 / Math.sqrt(headDim),
      rope: readRope(r, headDim, { interleave: false, thetaDefault: 10000 }),
      gate: { scoring: "softmax", normalize: r.bool("norm_topk_prob", false), groups: 1, topKGroups: 1, scale: 1, selectionBias: false },
      sharedExperts: { intermediateSize: r.int("shared_expert_intermediate_size"), gated: true },
    };
  },
  ...llamaLayout(),
  gate: (l) => `model.layers.${l}.mlp.gate.weight`,
  expert: (l, e, w) => `model.layers.${l}.mlp.experts.${e}.${HF_PROJ[w]}.weight`,
  sharedExpert: (l, w) => `model.layers.${l}.mlp.shared_expert.${HF_PROJ[w]}.weight`,
  sharedExpertGate: (l) => `model.layers.${l}.mlp.shared_expert_gate.weight`,
};
