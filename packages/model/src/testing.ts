// Test support shared with other packages (import "@expertmesh/model/testing"): the bundled model's
// location and a generator of tiny random Mixtral checkpoints in the real format.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSafetensors, type TensorToWrite } from "./safetensors-write.js";

export { BUNDLED_MODEL_DIR } from "./bundled.js";

export interface TinyModelOptions {
  seed?: number;
  /** Split the tensors over this many files with a model.safetensors.index.json. */
  shards?: number;
  /** Edits applied to config.json before it is written. */
  config?: Record<string, unknown>;
  /** Replaces tensors before writing (to make malformed checkpoints). */
  override?: Record<string, TensorToWrite>;
}

export const TINY = { V: 48, D: 16, L: 2, H: 4, K: 2, Dh: 4, F: 12, E: 4, k: 2, maxPos: 64 } as const;

/** Writes a tiny random Mixtral checkpoint (config.json + safetensors, with the bundled tokenizer). */
export function writeTinyModel(dir: string, opts: TinyModelOptions = {}): string {
  const { V, D, L, H, K, Dh, F, E, k, maxPos } = TINY;
  let s = opts.seed ?? 1;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.6;
  const t = (...shape: number[]): TensorToWrite => ({ data: Float32Array.from({ length: shape.reduce((a, b) => a * b) }, rand), shape });
  const norm = (): TensorToWrite => ({ data: Float32Array.from({ length: D }, () => 1 + rand()), shape: [D] });
  const tensors: Record<string, TensorToWrite> = {
    "model.embed_tokens.weight": t(V, D),
    "model.norm.weight": norm(),
    "lm_head.weight": t(V, D),
  };
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    tensors[`${p}.input_layernorm.weight`] = norm();
    tensors[`${p}.post_attention_layernorm.weight`] = norm();
    tensors[`${p}.self_attn.q_proj.weight`] = t(H * Dh, D);
    tensors[`${p}.self_attn.k_proj.weight`] = t(K * Dh, D);
    tensors[`${p}.self_attn.v_proj.weight`] = t(K * Dh, D);
    tensors[`${p}.self_attn.o_proj.weight`] = t(D, H * Dh);
    tensors[`${p}.block_sparse_moe.gate.weight`] = t(E, D);
    for (let e = 0; e < E; e++) {
      tensors[`${p}.block_sparse_moe.experts.${e}.w1.weight`] = t(F, D);
      tensors[`${p}.block_sparse_moe.experts.${e}.w3.weight`] = t(F, D);
      tensors[`${p}.block_sparse_moe.experts.${e}.w2.weight`] = t(D, F);
    }
  }
  Object.assign(tensors, opts.override);
  mkdirSync(dir, { recursive: true });
  const config = {
    architectures: ["MixtralForCausalLM"],
    model_type: "mixtral",
    vocab_size: V,
    hidden_size: D,
    intermediate_size: F,
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: K,
    head_dim: Dh,
    hidden_act: "silu",
    max_position_embeddings: maxPos,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    num_local_experts: E,
    num_experts_per_tok: k,
    tie_word_embeddings: false,
    bos_token_id: 0,
    eos_token_id: 0,
    ...opts.config,
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
  const shards = opts.shards ?? 1;
  if (shards === 1) {
    writeSafetensors(join(dir, "model.safetensors"), tensors);
  } else {
    const names = Object.keys(tensors).sort();
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < shards; i++) {
      const file = `model-${String(i + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
      const part = names.filter((_, j) => j % shards === i);
      part.forEach((n) => {
        weightMap[n] = file;
      });
      writeSafetensors(join(dir, file), Object.fromEntries(part.map((n) => [n, tensors[n]])));
    }
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  }
  return dir;
}
export { syntheticTrace } from "./predictor/synthetic-trace.js";
export { FAMILY_FIXTURES, FAMILY_FIXTURES_DIR, type FamilyFixture } from "./families.js";
