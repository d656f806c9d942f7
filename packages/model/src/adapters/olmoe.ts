// transformers OlmoeForCausalLM (models/olmoe/modeling_olmoe.py, configuration_olmoe.py):
// OlmoeAttention: q/k/v/o with bias = attention_bias; q_norm = RMSNorm over the whole q projection
// (hidden_size), k_norm over the whole k projection ((hidden/heads) * num_key_value_heads), applied before
// the reshape to heads; then q, k, v clamped to [-clip_qkv, clip_qkv] when clip_qkv is set; head_dim =
// hidden/heads. Every layer is MoE: `mlp.gate`, softmax in fp32, top-k, renormalised only if
// norm_topk_prob (default false); experts `mlp.experts.{e}.gate_proj|up_proj|down_proj` of
// intermediate_size. RMSNorm eps default 1e-5.
import { allLayers, HF_PROJ, llamaLayout, type FamilyAdapter } from "./adapter.js";
import { readCommon, readRope } from "./config-reader.js";
import { readExperts } from "./qwen-layers.js";

export const olmoeAdapter: FamilyAdapter = {
  architecture: "OlmoeForCausalLM",
  modelTypes: ["olmoe"],
  config(r) {
    const c = readCommon(r, { rmsNormEps: 1e-5 });
    const headDim = c.hiddenSize / c.numHeads;
    if (!Number.isInteger(headDim)) r.fail("num_attention_heads", `${c.numHeads} does not divide hidden_size ${c.hiddenSize}`);
    const bias = r.bool("attention_bias", false);
    const clip = r.raw.clip_qkv == null ? null : r.num("clip_qkv");
    return {
      ...c,
      ...readExperts(r),
      intermediateSize: r.int("intermediate_size"),
      numLayers: c.numHiddenLayers,
      moeLayers: allLayers(c.numHiddenLayers),
      denseIntermediateSize: 0,
      headDim,
      valueHeadDim: headDim,
      attention: { kind: "gqa", qkvBias: bias, outputBias: bias, qkNorm: "projection", clipQkv: clip },
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
