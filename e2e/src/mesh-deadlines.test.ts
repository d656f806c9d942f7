// Deadlines are per request, even inside one batch: requests with short deadlines decoding in the same
// steps as requests with long ones end alone with DEADLINE_EXCEEDED, and their neighbours go on to
// generate exactly the in-process runtime's tokens.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DeadlineExceededError, ExpertMeshClient } from "@expertmesh/client";
import { startMesh, type Mesh } from "@expertmesh/cli/launcher";
import { PROMPTS, referenceTokens, releaseReference } from "./reference.js";

let mesh: Mesh;
let client: ExpertMeshClient;

before(async () => {
  mesh = await startMesh({ shards: 2, replicas: 1, deviceBudget: "100%", predictor: false, nats: false });
  client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, retry: false });
});

after(async () => {
  client.close();
  await mesh.stop();
  await releaseReference();
});

test("mixed deadlines in one batch: the short ones end alone with DEADLINE_EXCEEDED, the long ones finish exactly", async () => {
  const long = 96;
  // All six are admitted together and decode in the same steps; the short deadlines pass mid-generation.
  const runs = PROMPTS.flatMap((prompt, i) => [
    { prompt, timeoutMs: 60_000, maxTokens: long },
    { prompt: `${prompt} ${i}`, timeoutMs: 150 + 100 * i, maxTokens: 400 },
  ]);
  const results = await Promise.allSettled(
    runs.map((r) => client.complete(r.prompt, { maxTokens: r.maxTokens, timeoutMs: r.timeoutMs, temperature: 0 })),
  );
  for (const [i, r] of runs.entries()) {
    const result = results[i]!;
    if (r.timeoutMs < 60_000) {
      assert.equal(result.status, "rejected", `${r.prompt}: a ${r.timeoutMs} ms deadline cannot fit 400 tokens`);
      assert.ok(
        (result as PromiseRejectedResult).reason instanceof DeadlineExceededError,
        String((result as PromiseRejectedResult).reason),
      );
    } else {
      assert.equal(result.status, "fulfilled", `${r.prompt}: ${String((result as PromiseRejectedResult).reason)}`);
      assert.deepEqual((result as PromiseFulfilledResult<{ tokenIds: number[] }>).value.tokenIds, await referenceTokens(r.prompt, long));
    }
  }
});
