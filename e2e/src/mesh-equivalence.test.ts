// Greedy generation through the mesh (real processes, gRPC over loopback, nats-server) equals the
// in-process runtime token for token, for 1, 2 and 4 shards, with and without replicas, at device
// budgets from 12.5 % to 100 %, with the prompts sent concurrently (so they share decode steps).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh } from "@expertmesh/cli/launcher";
import { PROMPTS, referenceTokens, releaseReference } from "./reference.js";

const MAX_TOKENS = 24;
const layouts = [
  { shards: 1, replicas: 1, deviceBudget: "100%" },
  { shards: 2, replicas: 1, deviceBudget: "25%" },
  { shards: 2, replicas: 2, deviceBudget: "50%" },
  { shards: 4, replicas: 1, deviceBudget: "12.5%" },
  { shards: 4, replicas: 2, deviceBudget: "25%" },
];

after(releaseReference);

for (const layout of layouts) {
  test(`mesh of ${layout.shards} shards x ${layout.replicas} replicas at ${layout.deviceBudget} = in-process, token for token`, async () => {
    const want = await Promise.all(PROMPTS.map((p) => referenceTokens(p, MAX_TOKENS)));
    const mesh = await startMesh({ ...layout, predictor: false });
    const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
    try {
      const got = await Promise.all(PROMPTS.map((p) => client.complete(p, { maxTokens: MAX_TOKENS })));
      got.forEach((g, i) => {
        assert.deepEqual(g.tokenIds, want[i], `prompt ${i}`);
        assert.equal(g.finishReason, "length");
      });
    } finally {
      client.close();
      await mesh.stop();
    }
  });
}
