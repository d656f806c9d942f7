// expertmesh synth's checkpoints: they load, score, shard and round to bf16 as the real format does.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BUNDLED_MODEL_DIR } from "../bundled.js";
import { Checkpoint } from "../checkpoint.js";
import { readConfig } from "../config.js";
import { ConfigError, InvalidInputError } from "../errors.js";
import { MoeRuntime } from "../runtime.js";
import { SafetensorsFile } from "../safetensors.js";
import { score } from "../score.js";
import { TextTokenizer } from "../tokenizer.js";
import type { SynthGeometry } from "./synth-family.js";
import { writeSynthCheckpoint, type SynthOptions } from "./synth-write.js";

const SMALL: SynthGeometry = { hidden: 32, intermediate: 48, layers: 2, experts: 4, topK: 2, heads: 4, kvHeads: 2 };
const tmp = () => join(mkdtempSync(join(tmpdir(), "synth-")), "model");
const synth = (opts: Partial<SynthOptions> = {}) => writeSynthCheckpoint(tmp(), { geometry: SMALL, seed: 7, ...opts });

async function logitsOf(dir: string, tokens: number[]): Promise<Float32Array> {
  const rt = await MoeRuntime.load(dir);
  try {
    return (await rt.step([{ sequence: rt.newSequence(), tokens }], { allLogits: true }))[0];
  } finally {
    await rt.release();
  }
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

test("a synthesised checkpoint loads with its tokenizer and scores text at ln V nats per token (weights of std 0.02)", async () => {
  const { dir, config } = synth();
  const rt = await MoeRuntime.load(dir);
  try {
    const ids = TextTokenizer.load(dir, rt.config).encodePrompt("The state of the Union is strong, and the Congress is in session.");
    const r = await score(rt, ids);
    // Logits of std ~0.02 * sqrt(D) = 0.11 around 0: the mean NLL is ln V + sigma^2 / 2 ~ ln V + 0.006.
    assert.ok(Math.abs(r.meanNll - Math.log(config.vocabSize)) < 0.05, `mean NLL ${r.meanNll} vs ln V ${Math.log(config.vocabSize)}`);
  } finally {
    await rt.release();
  }
});

test("the config names the geometry given, the vocabulary defaults to the tokenizer's, unset sizes to Mixtral's proportions", () => {
  const { dir } = writeSynthCheckpoint(tmp(), { geometry: { hidden: 1024, intermediate: 64, layers: 1, experts: 2, topK: 1 } });
  const c = readConfig(dir);
  assert.deepEqual(
    [c.hiddenSize, c.intermediateSize, c.numLayers, c.numExperts, c.topK, c.numHeads, c.numKvHeads, c.headDim, c.vocabSize],
    [1024, 64, 1, 2, 1, 8, 2, 128, 4096],
  );
});

test("--config-like takes every size from a config.json: the bundled model's geometry gives the bundled tensor shapes", () => {
  const base = JSON.parse(readFileSync(join(BUNDLED_MODEL_DIR, "config.json"), "utf8"));
  const { dir } = writeSynthCheckpoint(tmp(), { geometry: {}, base });
  const real = SafetensorsFile.open(join(BUNDLED_MODEL_DIR, "model.safetensors"));
  const made = SafetensorsFile.open(join(dir, "model.safetensors"));
  assert.deepEqual([...made.tensors.keys()].sort(), [...real.tensors.keys()].sort());
  for (const [name, info] of real.tensors) assert.deepEqual(made.tensors.get(name)?.shape, info.shape, name);
});

test("bf16 output stores BF16 tensors whose logits match the f32 checkpoint of the same seed within bf16 rounding (5e-3)", async () => {
  const f32 = synth();
  const bf16 = synth({ dtype: "bf16" });
  const file = SafetensorsFile.open(join(bf16.dir, "model.safetensors"));
  assert.ok([...file.tensors.values()].every((t) => t.dtype === "BF16"));
  const tokens = [0, 17, 300, 2048, 5];
  const d = maxAbsDiff(await logitsOf(f32.dir, tokens), await logitsOf(bf16.dir, tokens));
  assert.ok(d > 0 && d < 5e-3, `max |logit difference| ${d}`);
});

test("a checkpoint over the shard size is split into shards with an index, holding the same values", async () => {
  const one = synth();
  const split = synth({ maxShardBytes: 64 * 1024 });
  const shards = readdirSync(split.dir).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  assert.ok(shards.length > 1, `${shards.length} shards`);
  Checkpoint.open(split.dir);
  const tokens = [0, 9, 99, 999];
  assert.equal(maxAbsDiff(await logitsOf(one.dir, tokens), await logitsOf(split.dir, tokens)), 0);
});

test("bad geometry is refused before anything is written, naming the size", () => {
  assert.throws(
    () => writeSynthCheckpoint(tmp(), { geometry: { ...SMALL, hidden: undefined } }),
    (e: unknown) => e instanceof InvalidInputError && /hidden: is required/.test(e.message),
  );
  assert.throws(() => synth({ geometry: { ...SMALL, vocab: 100 } }), /vocab: 100 is below the tokenizer's 4096 tokens/);
  assert.throws(
    () => synth({ geometry: { ...SMALL, topK: 5 } }),
    (e: unknown) => e instanceof ConfigError && /num_experts_per_tok: 5 exceeds num_local_experts 4/.test(e.message),
  );
  assert.throws(() => synth({ geometry: { ...SMALL, heads: 5 } }), /heads: 5 does not divide hidden 32/);
  const dir = tmp();
  writeSynthCheckpoint(dir, { geometry: SMALL });
  writeFileSync(join(dir, "keep.txt"), "x");
  assert.throws(() => writeSynthCheckpoint(dir, { geometry: SMALL }), /out: .* exists and is not empty/);
});
