// transformers MixtralForCausalLM (models/mixtral/modeling_mixtral.py, configuration_mixtral.py):
// `model.layers.{i}.block_sparse_moe.{gate, experts.{e}.w1|w2|w3}`, softmax top-k renormalised
// (MixtralSparseMoeBlock), plain GQA without biases or q/k norms (MixtralAttention).
import { MIXTRAL_GATE } from "@expertmesh/moe";
import { allLayers, llamaLayout, type FamilyAdapter } from "./adapter.js";
import { readCommon, readRope } from "./config-reader.js";

export const mixtralAdapter: FamilyAdapter = {
  architecture: "MixtralForCausalLM",
  modelTypes: ["mixtral"],
  config(r) {
    const c = readCommon(r, { rmsNormEps: 1e-5 });
    const headDim = r.has("head_dim") ? r.int("head_dim") : c.hiddenSize / c.numHeads;
    if (!Number.isInteger(headDim)) r.fail("head_dim", `hidden_size ${c.hiddenSize} is not divisible by num_attention_heads ${c.numHeads}`);
    const numExperts = r.int("num_local_experts");
    const topK = r.int("num_experts_per_tok");
    if (topK > numExperts) r.fail("num_experts_per_tok", `${topK} exceeds num_local_experts ${numExperts}`);
    return {
      ...c,
      intermediateSize: r.int("intermediate_size"),
      numLayers: c.numHiddenLayers,
      moeLayers: allLayers(c.numHiddenLayers),
      denseIntermediateSize: 0,
      headDim,
      valueHeadDim: headDim,
      numExperts,
      topK,
      attention: { kind: "gqa", qkvBias: false, outputBias: false, qkNorm: "none", clipQkv: null },
      attentionScale: 1 / Math.sqrt(headDim),
      rope: readRope(r, headDim, { interleave: false, thetaDefault: 1e6 }),
      gate: MIXTRAL_GATE,
      sharedExperts: null,
    };
  },
  ...llamaLayout(),
  gate: (l) => `model.layers.${l}.block_sparse_moe.gate.weight`,
  expert: (l, e, w) => `model.layers.${l}.block_sparse_moe.experts.${e}.${w}.weight`,
};
