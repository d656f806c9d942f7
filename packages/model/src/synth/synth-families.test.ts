// `synth --family F` for every supported family: a checkpoint written from a family's golden fixture config
// (made by the PyTorch script from the HF modules) has exactly the fixture's tensor names and shapes, and
// one from a bare geometry loads and scores.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FAMILY_FIXTURES, FAMILY_FIXTURES_DIR } from "../families.js";
import { MoeRuntime } from "../runtime.js";
import { SafetensorsFile } from "../safetensors.js";
import { score } from "../score.js";
import { TextTokenizer } from "../tokenizer.js";
import { writeSynthCheckpoint } from "./synth-write.js";

const tmp = () => join(mkdtempSync(join(tmpdir(), "synth-family-")), "model");

function tensorShapes(dir: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".safetensors"))) {
    for (const [name, info] of SafetensorsFile.open(join(dir, f)).tensors) out[name] = info.shape;
  }
  return out;
}

for (const family of FAMILY_FIXTURES) {
  test(`${family}: synth --config-like its fixture writes the fixture's tensor names and shapes`, () => {
    const fixture = join(FAMILY_FIXTURES_DIR, family);
    const base = JSON.parse(readFileSync(join(fixture, "config.json"), "utf8")) as Record<string, unknown>;
    const { dir } = writeSynthCheckpoint(tmp(), { geometry: {}, base, tokenizerDir: fixture, seed: 1 });
    assert.deepEqual(tensorShapes(dir), tensorShapes(fixture));
  });
}

for (const family of ["qwen3_moe", "qwen2_moe", "olmoe", "deepseek_v3"]) {
  test(`synth --family ${family} from a geometry loads and scores text at about ln V nats per token`, async () => {
    const { dir, config } = writeSynthCheckpoint(tmp(), {
      geometry: { hidden: 64, intermediate: 32, layers: 2, experts: 16, topK: 4, heads: 4 },
      family,
      dtype: "bf16",
      seed: 5,
    });
    assert.equal(config.numLayers, 2);
    assert.equal(config.numExperts, 16);
    const rt = await MoeRuntime.load(dir);
    try {
      const ids = TextTokenizer.load(dir, rt.config).encodePrompt("The state of the Union is strong, and the Congress is in session.");
      const r = await score(rt, ids);
      assert.ok(Math.abs(r.meanNll - Math.log(config.vocabSize)) < 0.05, `mean NLL ${r.meanNll} vs ln V ${Math.log(config.vocabSize)}`);
    } finally {
      await rt.release();
    }
  });
}
