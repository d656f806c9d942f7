// Route-aware scheduling through the mesh (real processes): with --step-batch 2 and 8 sequences allowed in
// flight, the router decodes the concurrent prompts in several steps per iteration, regrouped by their
// last routing; greedy output still equals the in-process runtime token for token.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh } from "@expertmesh/cli/launcher";
import { PROMPTS, referenceTokens, releaseReference } from "./reference.js";

const MAX_TOKENS = 24;

after(releaseReference);

// (--schedule arrival with a step batch runs the same path with other batches; the router's
// batcher-schedule.test.ts covers both modes in process.)
for (const schedule of ["regroup"]) {
  test(`mesh with --schedule ${schedule} --step-batch 2 = in-process, token for token`, async () => {
    const want = await Promise.all(PROMPTS.map((p) => referenceTokens(p, MAX_TOKENS)));
    const mesh = await startMesh({
      shards: 2,
      replicas: 1,
      deviceBudget: "50%",
      predictor: false,
      routerArgs: ["--schedule", schedule, "--step-batch", "2", "--max-batch", "8"],
    });
    const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
    try {
      const got = await Promise.all([...PROMPTS, ...PROMPTS].map((p) => client.complete(p, { maxTokens: MAX_TOKENS })));
      got.forEach((g, i) => {
        assert.deepEqual(g.tokenIds, want[i % PROMPTS.length], `prompt ${i}`);
        assert.equal(g.finishReason, "length");
      });
    } finally {
      client.close();
      await mesh.stop();
    }
  });
}
