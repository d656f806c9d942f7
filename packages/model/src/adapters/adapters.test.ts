import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseConfig } from "../config.js";
import { ConfigError, TensorError } from "../errors.js";
import { FAMILY_FIXTURES_DIR } from "../families.js";
import { MoeRuntime } from "../runtime.js";
import { SUPPORTED_ARCHITECTURES } from "./index.js";

const fixtureConfig = (family: string) =>
  JSON.parse(readFileSync(join(FAMILY_FIXTURES_DIR, family, "config.json"), "utf8")) as Record<string, unknown>;

test("the supported list is the registry's: every family's architecture, Mixtral first", () => {
  assert.deepEqual(
    [...SUPPORTED_ARCHITECTURES],
    ["MixtralForCausalLM", "Qwen3MoeForCausalLM", "Qwen2MoeForCausalLM", "OlmoeForCausalLM", "DeepseekV3ForCausalLM"],
  );
});

test("an unsupported architecture's error names it and every supported one", () => {
  assert.throws(
    () => parseConfig({ architectures: ["GptOssForCausalLM"] }, "m/config.json"),
    (e) =>
      e instanceof ConfigError &&
      e.key === "architectures" &&
      /GptOssForCausalLM/.test(e.message) &&
      SUPPORTED_ARCHITECTURES.every((a) => e.message.includes(a)),
  );
});

test("a config without architectures is matched by model_type, Kimi-K2's included", () => {
  const { architectures: _, ...raw } = fixtureConfig("kimi_k2");
  const c = parseConfig(raw);
  assert.equal(c.architecture, "DeepseekV3ForCausalLM");
  assert.equal(c.modelType, "kimi_k2");
});

test("a missing key is named with the file and the family that needs it", () => {
  const raw = fixtureConfig("deepseek_v3");
  delete raw.kv_lora_rank;
  assert.throws(
    () => parseConfig(raw, "/m/config.json"),
    (e) =>
      e instanceof ConfigError &&
      e.key === "kv_lora_rank" &&
      e.message === "/m/config.json: kv_lora_rank: missing (DeepseekV3ForCausalLM needs it)",
  );
});

test("DeepSeek-V3's layer kinds: first_k_dense_replace dense layers, the rest MoE, MoE index separate from decoder index", () => {
  const c = parseConfig(fixtureConfig("deepseek_v3"));
  assert.deepEqual(c.moeLayers, [1, 2]);
  assert.equal(c.numLayers, 2);
  assert.equal(c.numHiddenLayers, 3);
  assert.deepEqual([c.numKvHeads, c.headDim, c.valueHeadDim], [1, 24, 16]); // the cache holds the latent (16) and the rope key (8)
  assert.deepEqual(c.gate, { scoring: "sigmoid", normalize: true, groups: 4, topKGroups: 2, scale: 2.5, selectionBias: true });
  assert.deepEqual(c.sharedExperts, { intermediateSize: 8, gated: false });
});

test("Qwen's mlp_only_layers and decoder_sparse_step choose the dense layers", () => {
  const raw = { ...fixtureConfig("qwen3_moe"), num_hidden_layers: 6, mlp_only_layers: [0], decoder_sparse_step: 2 };
  assert.deepEqual(parseConfig(raw).moeLayers, [1, 3, 5]);
});

test("a group-limited gate whose kept groups hold fewer experts than k is refused with the numbers", () => {
  const raw = { ...fixtureConfig("deepseek_v3"), topk_group: 1, num_experts_per_tok: 5 };
  assert.throws(
    () => parseConfig(raw),
    (e) => e instanceof ConfigError && e.key === "num_experts_per_tok" && /5 exceeds the 4 experts/.test(e.message),
  );
});

test("an unsupported RoPE scaling is named with its key and the supported types", () => {
  const raw = { ...fixtureConfig("qwen3_moe"), rope_scaling: { rope_type: "longrope", factor: 4 } };
  assert.throws(
    () => parseConfig(raw),
    (e) =>
      e instanceof ConfigError &&
      e.key === "rope_scaling.rope_type" &&
      /"longrope" is not supported \(supported: default, yarn\)/.test(e.message),
  );
});

test("a latent-attention tensor of the wrong shape names the tensor, the expected and the actual shape", async () => {
  const dir = mkdtempSync(join(tmpdir(), "family-shape-"));
  cpSync(join(FAMILY_FIXTURES_DIR, "deepseek_v3"), dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...fixtureConfig("deepseek_v3"), kv_lora_rank: 12 }));
  await assert.rejects(
    MoeRuntime.load(dir),
    (e) =>
      e instanceof TensorError &&
      e.tensor === "model.layers.0.self_attn.kv_a_proj_with_mqa.weight" &&
      /shape \[24,32\] but the config implies \[20,32\]/.test(e.message),
  );
});
