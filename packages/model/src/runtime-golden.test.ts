// The runtime against the training framework's own forward pass (models/sotu-moe/train.py, PyTorch):
// logits within 1e-3 absolute (fp32 on both sides), routing identical, perplexity within 1e-4 nats.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MoeRuntime, type LayerRouting } from "./runtime.js";
import { SafetensorsFile } from "./safetensors.js";
import { score } from "./score.js";
import { BUNDLED_MODEL_DIR } from "./testing.js";
import { TextTokenizer } from "./tokenizer.js";

const LOGIT_TOLERANCE = 1e-3;
const golden = SafetensorsFile.open(join(BUNDLED_MODEL_DIR, "golden/golden.safetensors"));
const inputs = JSON.parse(readFileSync(join(BUNDLED_MODEL_DIR, "golden/prompts.json"), "utf8")) as {
  greedy_steps: number;
  prompts: { text: string; ids: number[] }[];
  score: { file: string; ids: number[] };
};
const reference = JSON.parse(readFileSync(join(BUNDLED_MODEL_DIR, "golden/reference.json"), "utf8"));
let rt: MoeRuntime;

before(async () => {
  rt = await MoeRuntime.load(BUNDLED_MODEL_DIR);
});
after(async () => rt.release());

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("the tokenizer encodes the golden prompts to the ids the reference was run on", () => {
  const tok = TextTokenizer.load(BUNDLED_MODEL_DIR, rt.config);
  for (const p of inputs.prompts) assert.deepEqual(tok.encodePrompt(p.text), p.ids);
  assert.deepEqual(tok.encodePrompt(readFileSync(join(BUNDLED_MODEL_DIR, inputs.score.file), "utf8")), inputs.score.ids);
});

test("logits of prompts of different lengths, batched together, match the reference", async () => {
  const V = rt.config.vocabSize;
  const seqs = inputs.prompts.map(() => rt.newSequence());
  const out = await rt.step(
    inputs.prompts.map((p, i) => ({ sequence: seqs[i], tokens: p.ids })),
    { allLogits: true },
  );
  inputs.prompts.forEach((p, i) => {
    const want = golden.readFloat(`prompt${i}.logits`).data; // the last min(T, 8) positions
    const got = out[i].subarray(out[i].length - want.length);
    assert.equal(out[i].length, p.ids.length * V);
    const diff = maxAbsDiff(got, want);
    assert.ok(diff < LOGIT_TOLERANCE, `prompt ${i}: max |diff| ${diff}`);
  });
});

test("each layer routes each token to the reference's experts", async () => {
  const { numLayers: L, topK: k } = rt.config;
  for (const [i, p] of inputs.prompts.entries()) {
    const want = golden.read(`prompt${i}.experts`).data as Int32Array; // [L, T, k]
    const got: LayerRouting[] = [];
    await rt.step([{ sequence: rt.newSequence(), tokens: p.ids }], { onRouting: (r) => got.push(r) });
    assert.equal(got.length, L);
    for (const r of got)
      assert.deepEqual(Array.from(r.experts), Array.from(want.subarray(r.layer * p.ids.length * k, (r.layer + 1) * p.ids.length * k)));
  }
});

test("decoding through the KV cache matches the reference's full recomputation at every step", async () => {
  const V = rt.config.vocabSize;
  const prompt = inputs.prompts[0].ids;
  const wantLogits = golden.readFloat("greedy.logits").data; // [steps, V]
  const wantIds = Array.from(golden.read("greedy.ids").data as Int32Array);
  const seq = rt.newSequence();
  let [logits] = await rt.step([{ sequence: seq, tokens: prompt }]);
  for (let s = 0; s < inputs.greedy_steps; s++) {
    const diff = maxAbsDiff(logits, wantLogits.subarray(s * V, (s + 1) * V));
    assert.ok(diff < LOGIT_TOLERANCE, `step ${s}: max |diff| ${diff}`);
    const next = wantIds[prompt.length + s];
    if (s + 1 < inputs.greedy_steps) [logits] = await rt.step([{ sequence: seq, tokens: [next] }]);
  }
});

test("score reproduces the reference's mean NLL of the fixture text (1e-4 nats)", async () => {
  const r = await score(rt, inputs.score.ids);
  assert.equal(r.tokens, reference.score.tokens);
  assert.ok(Math.abs(r.meanNll - reference.score.mean_nll) < 1e-4, `${r.meanNll} vs ${reference.score.mean_nll}`);
});
