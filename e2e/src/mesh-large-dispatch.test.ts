// A prefill whose expert work exceeds gRPC's 32 MiB message cap goes through the mesh: D = 2048, k = 8
// of 8 experts and a ~780-token prompt put 51 MB of hidden states on the one shard's layer call, which
// the router splits into messages under the cap (dispatch-split.ts). Greedy output equals the in-process
// runtime of the same checkpoint, token for token, on the stream and on the unary dispatch.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh } from "@expertmesh/cli/launcher";
import { generate, MoeRuntime, TextTokenizer, writeSynthCheckpoint } from "@expertmesh/model";

const MAX_TOKENS = 3;
const MESSAGE_CAP = 32 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "em-mesh-large-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const model = join(dir, "m");
// Wide hidden states, tiny everything else (2 heads of 64, F = 16): the bytes on the wire are what matter.
writeSynthCheckpoint(model, {
  geometry: { hidden: 2048, intermediate: 16, layers: 1, experts: 8, topK: 8, heads: 2, kvHeads: 1, headDim: 64, maxPositions: 1024 },
  seed: 3,
});
const SENTENCE = "The state of the Union is strong, and we must never forget the work that remains before us. ";

test("a 51 MB layer call is split under the message cap, and the output equals in-process", async () => {
  const rt = await MoeRuntime.load(model);
  let prompt = "";
  let want: number[];
  try {
    const tok = TextTokenizer.load(model, rt.config);
    while (tok.encodePrompt(prompt).length < 780) prompt += SENTENCE;
    const ids = tok.encodePrompt(prompt);
    const { hiddenSize: D, topK } = rt.config;
    assert.ok(ids.length * topK * D * 4 > MESSAGE_CAP, `the prompt's expert work is ${ids.length * topK * D * 4} bytes, not over the cap`);
    want = (await generate(rt, [ids], { maxTokens: MAX_TOKENS })).tokens[0];
  } finally {
    await rt.release();
  }
  for (const dispatch of ["stream", "unary"]) {
    // A generous per-call deadline: the 51 MB call is what is tested, not how fast a loaded machine moves it.
    const routerArgs = ["--dispatch", dispatch, "--shard-timeout", "60s"];
    const mesh = await startMesh({ model, shards: 1, replicas: 1, predictor: false, routerArgs });
    const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 120_000, retry: false });
    try {
      const got = await client.complete(prompt, { maxTokens: MAX_TOKENS });
      assert.deepEqual(got.tokenIds, want, `dispatch ${dispatch}`);
    } finally {
      client.close();
      await mesh.stop();
    }
  }
});
