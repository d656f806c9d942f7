// Mixtral (MixtralForCausalLM) for `expertmesh synth`: transformers' config keys and the tensor names of
// the Mixtral adapter. Defaults follow Mixtral-8x7B's proportions where the geometry leaves a size out:
// head dim 128 (64 below D = 1024, and never more than D), kv heads H / 4, context 4,096.
import { mixtralAdapter } from "../adapters/mixtral.js";
import type { MoeConfig } from "../config.js";
import { InvalidInputError } from "../errors.js";
import type { SynthDType, SynthFamily, SynthGeometry, SynthTensor } from "./synth-family.js";

/** transformers' initializer_range for Mixtral: weights are drawn with this standard deviation. */
const INIT_STD = 0.02;

export const mixtralSynth: SynthFamily = {
  name: "mixtral",
  architecture: mixtralAdapter.architecture,

  config(base, g, dtype) {
    const size = (flag: string, key: string, value: number | undefined, fallback?: number): number => {
      const v = value ?? (base[key] as number | undefined) ?? fallback;
      if (v === undefined) throw new InvalidInputError(flag, `is required (or --config-like DIR with ${key} in its config.json)`);
      if (!Number.isInteger(v) || v <= 0) throw new InvalidInputError(flag, `must be a positive integer, got ${JSON.stringify(v)}`);
      return v;
    };
    const D = size("hidden", "hidden_size", g.hidden);
    // The attention shape comes from the base config unless the geometry changes D or H.
    const baseHeads = g.hidden === undefined;
    const baseKv = baseHeads && g.heads === undefined;
    const headDimGuess = Math.min(D, D >= 1024 ? 128 : 64);
    const H =
      g.heads ??
      (baseHeads ? (base.num_attention_heads as number | undefined) : undefined) ??
      (D % headDimGuess === 0 ? D / headDimGuess : undefined);
    const heads = size("heads", "num_attention_heads", H);
    const kv =
      g.kvHeads ?? (baseKv ? (base.num_key_value_heads as number | undefined) : undefined) ?? (heads % 4 === 0 ? heads / 4 : heads);
    const headDim = g.headDim ?? (baseKv ? (base.head_dim as number | undefined) : undefined) ?? D / heads;
    if (!Number.isInteger(headDim))
      throw new InvalidInputError("heads", `${heads} does not divide hidden ${D} (give --head-dim to choose the head size)`);
    return {
      ...base,
      architectures: [mixtralAdapter.architecture],
      model_type: "mixtral",
      torch_dtype: dtype === "bf16" ? "bfloat16" : "float32",
      vocab_size: size("vocab", "vocab_size", g.vocab),
      hidden_size: D,
      intermediate_size: size("intermediate", "intermediate_size", g.intermediate),
      num_hidden_layers: size("layers", "num_hidden_layers", g.layers),
      num_attention_heads: heads,
      num_key_value_heads: size("kv-heads", "num_key_value_heads", kv),
      head_dim: headDim,
      hidden_act: "silu",
      max_position_embeddings: size("max-positions", "max_position_embeddings", g.maxPositions, 4096),
      rms_norm_eps: base.rms_norm_eps ?? 1e-5,
      rope_theta: base.rope_theta ?? 1e6,
      sliding_window: null,
      num_local_experts: size("experts", "num_local_experts", g.experts),
      num_experts_per_tok: size("top-k", "num_experts_per_tok", g.topK),
      tie_word_embeddings: base.tie_word_embeddings ?? false,
      initializer_range: INIT_STD,
      bos_token_id: base.bos_token_id ?? 0,
      eos_token_id: base.eos_token_id ?? 0,
    } satisfies Record<string, unknown> as Record<string, unknown>;
  },

  tensors(c: MoeConfig): SynthTensor[] {
    const { vocabSize: V, hiddenSize: D, intermediateSize: F, numHeads: H, numKvHeads: K, headDim: Dh, numExperts: E } = c;
    const a = mixtralAdapter;
    const w = (name: string, ...shape: number[]): SynthTensor => ({ name, shape, init: { kind: "uniform", std: INIT_STD } });
    const norm = (name: string): SynthTensor => ({ name, shape: [D], init: { kind: "ones" } });
    const out: SynthTensor[] = [w(a.embedTokens, V, D), norm(a.finalNorm)];
    if (!c.tieWordEmbeddings) out.push(w(a.lmHead(c), V, D));
    for (let l = 0; l < c.numLayers; l++) {
      out.push(norm(a.inputNorm(l)), norm(a.postAttentionNorm(l)));
      out.push(
        w(a.attention(l, "q_proj"), H * Dh, D),
        w(a.attention(l, "k_proj"), K * Dh, D),
        w(a.attention(l, "v_proj"), K * Dh, D),
        w(a.attention(l, "o_proj"), D, H * Dh),
      );
      out.push(w(a.gate(l), E, D));
      for (let e = 0; e < E; e++) out.push(w(a.expert(l, e, "w1"), F, D), w(a.expert(l, e, "w3"), F, D), w(a.expert(l, e, "w2"), D, F));
    }
    return out;
  },
};

export type { SynthDType, SynthGeometry };
