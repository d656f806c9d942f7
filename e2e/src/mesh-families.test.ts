// Every supported family through the mesh: greedy generation from the family's golden fixture through
// real shards (routed experts on the shards; dense layers and shared experts in the router's dense graph)
// equals the in-process runtime of the same checkpoint, token for token; and a 256-expert, top-8 geometry.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh } from "@expertmesh/cli/launcher";
import { generate, MoeRuntime, TextTokenizer, writeSynthCheckpoint } from "@expertmesh/model";
import { FAMILY_FIXTURES, FAMILY_FIXTURES_DIR } from "@expertmesh/model/testing";

const PROMPTS = ["the union is", "we hold these truths"];
const MAX_TOKENS = 12;

async function inProcess(model: string): Promise<number[][]> {
  const rt = await MoeRuntime.load(model);
  try {
    const tok = TextTokenizer.load(model, rt.config);
    const out: number[][] = [];
    for (const p of PROMPTS) out.push((await generate(rt, [tok.encodePrompt(p)], { maxTokens: MAX_TOKENS })).tokens[0]);
    return out;
  } finally {
    await rt.release();
  }
}

for (const family of FAMILY_FIXTURES) {
  test(`${family}: 2 shards at 50 % = in-process, token for token`, async () => {
    const model = join(FAMILY_FIXTURES_DIR, family);
    const want = await inProcess(model);
    const mesh = await startMesh({ model, shards: 2, replicas: 1, deviceBudget: "50%", predictor: false });
    const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
    try {
      const got = await Promise.all(PROMPTS.map((p) => client.complete(p, { maxTokens: MAX_TOKENS })));
      got.forEach((g, i) => {
        assert.equal(g.tokenIds.length, MAX_TOKENS);
        assert.deepEqual(g.tokenIds, want[i], `prompt ${i}`);
      });
    } finally {
      client.close();
      await mesh.stop();
    }
  });
}

test("a synthesised DeepSeek-V3 geometry with E=256, k=8 through 2 shards at 25 % = in-process, token for token", async () => {
  const model = join(mkdtempSync(join(tmpdir(), "em-mesh-e256-")), "m");
  writeSynthCheckpoint(model, {
    geometry: { hidden: 64, intermediate: 16, layers: 2, experts: 256, topK: 8, heads: 4 },
    family: "deepseek_v3",
    seed: 2,
  });
  const prompts = ["The state of the Union is", "We must never forget that"];
  const want: number[][] = [];
  const rt = await MoeRuntime.load(model);
  try {
    const tok = TextTokenizer.load(model, rt.config);
    for (const p of prompts) want.push((await generate(rt, [tok.encodePrompt(p)], { maxTokens: MAX_TOKENS })).tokens[0]);
  } finally {
    await rt.release();
  }
  const mesh = await startMesh({ model, shards: 2, replicas: 1, deviceBudget: "25%", predictor: false });
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
  try {
    const got = await Promise.all(prompts.map((p) => client.complete(p, { maxTokens: MAX_TOKENS })));
    got.forEach((g, i) => {
      assert.deepEqual(g.tokenIds, want[i], `prompt ${i}`);
    });
  } finally {
    client.close();
    await mesh.stop();
  }
});
