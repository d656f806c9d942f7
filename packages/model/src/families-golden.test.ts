// Every supported family against golden outputs of an independent PyTorch implementation written from the
// Hugging Face modeling code (models/sotu-moe/family_fixtures.py): logits within 1e-4 (fp32 on both sides),
// the same experts per token and layer, a KV-cached greedy decode equal to the reference's full
// recomputation, and the chunked mean NLL of a text within 1e-4 nats.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FAMILY_FIXTURES, FAMILY_FIXTURES_DIR } from "./families.js";
import { MoeRuntime, type LayerRouting } from "./runtime.js";
import { SafetensorsFile } from "./safetensors.js";
import { score } from "./score.js";
import { TextTokenizer } from "./tokenizer.js";

const TOLERANCE = 1e-4;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const family of FAMILY_FIXTURES) {
  describe(family, () => {
    const dir = join(FAMILY_FIXTURES_DIR, family);
    const golden = SafetensorsFile.open(join(dir, "golden/golden.safetensors"));
    const ref = JSON.parse(readFileSync(join(dir, "golden/reference.json"), "utf8")) as {
      prompts: { text: string; ids: number[] }[];
      greedy_steps: number;
      score: { file: string; ids: number[]; tokens: number; mean_nll: number };
    };
    let rt: MoeRuntime;
    before(async () => {
      rt = await MoeRuntime.load(dir);
    });
    after(async () => rt.release());

    test("the tokenizer encodes the prompts and the score text to the reference's ids", () => {
      const tok = TextTokenizer.load(dir, rt.config);
      for (const p of ref.prompts) assert.deepEqual(tok.encodePrompt(p.text), p.ids);
      assert.deepEqual(tok.encodePrompt(readFileSync(join(dir, ref.score.file), "utf8")), ref.score.ids);
    });

    test("logits of two prompts of different lengths, batched together, match within 1e-4", async () => {
      const out = await rt.step(
        ref.prompts.map((p) => ({ sequence: rt.newSequence(), tokens: p.ids })),
        { allLogits: true },
      );
      ref.prompts.forEach((_, i) => {
        const diff = maxAbsDiff(out[i], golden.readFloat(`prompt${i}.logits`).data);
        assert.ok(diff < TOLERANCE, `prompt ${i}: max |diff| ${diff}`);
      });
    });

    test("each MoE layer routes each token to the reference's experts", async () => {
      const k = rt.config.topK;
      for (const [i, p] of ref.prompts.entries()) {
        const want = golden.read(`prompt${i}.experts`).data as Int32Array; // [L, T, k], ascending per token
        const got: LayerRouting[] = [];
        await rt.step([{ sequence: rt.newSequence(), tokens: p.ids }], { onRouting: (r) => got.push(r) });
        assert.equal(got.length, rt.config.numLayers);
        for (const r of got) {
          for (let t = 0; t < p.ids.length; t++) {
            const mine = Array.from(r.experts.subarray(t * k, (t + 1) * k)).sort((a, b) => a - b);
            const base = (r.layer * p.ids.length + t) * k;
            assert.deepEqual(mine, Array.from(want.subarray(base, base + k)), `layer ${r.layer} token ${t}`);
          }
        }
      }
    });

    test("a greedy decode through the KV cache matches the reference's full recomputation at every step", async () => {
      const V = rt.config.vocabSize;
      const prompt = ref.prompts[0].ids;
      const wantLogits = golden.readFloat("greedy.logits").data;
      const wantIds = Array.from(golden.read("greedy.ids").data as Int32Array);
      const seq = rt.newSequence();
      let [logits] = await rt.step([{ sequence: seq, tokens: prompt }]);
      for (let s = 0; s < ref.greedy_steps; s++) {
        const diff = maxAbsDiff(logits, wantLogits.subarray(s * V, (s + 1) * V));
        assert.ok(diff < TOLERANCE, `step ${s}: max |diff| ${diff}`);
        let best = 0;
        for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
        assert.equal(best, wantIds[prompt.length + s], `step ${s}`);
        if (s + 1 < ref.greedy_steps) [logits] = await rt.step([{ sequence: seq, tokens: [best] }]);
      }
    });

    test("score reproduces the reference's mean NLL of the text within 1e-4 nats", async () => {
      const r = await score(rt, ref.score.ids);
      assert.equal(r.tokens, ref.score.tokens);
      assert.ok(Math.abs(r.meanNll - ref.score.mean_nll) < 1e-4, `${r.meanNll} vs ${ref.score.mean_nll}`);
    });
  });
}
