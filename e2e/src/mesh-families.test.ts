// Every supported family through the mesh: greedy generation from the family's golden fixture through
// real shards (routed experts on the shards; dense layers and shared experts in the router's dense graph)
// equals the in-process runtime of the same checkpoint, token for token.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh } from "@expertmesh/cli/launcher";
import { generate, MoeRuntime, TextTokenizer } from "@expertmesh/model";
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
    const client = new ExpertMeshClient(mesh.router.address, { timeoutMs: 60_000 });
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
