// Prediction and hints only where a policy consumes them: lru shards say in their heartbeats that they
// ignore hints (ignores_hints), so once the router has heard from both, a completion asks the predictor
// nothing; expertflow shards use hints, and the same completion asks it for every step.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { freePortRange, startMesh } from "@expertmesh/cli/launcher";

async function predictRoutesCalls(url: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("expertmesh_rpc_requests_total{") && l.includes('grpc_method="PredictRoutes"'))
    .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
}

for (const [policy, consumes] of [
  ["lru", false],
  ["expertflow", true],
] as const) {
  test(`${policy} shards: the router ${consumes ? "asks" : "does not ask"} the predictor during a completion`, async () => {
    const mesh = await startMesh({ shards: 2, deviceBudget: "50%", policy, secure: false, metricsPort: await freePortRange(4) });
    const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // heartbeats every second reach the router
      const before = await predictRoutesCalls(mesh.predictor!.metrics!);
      const got = await client.complete("The state of the Union is", { maxTokens: 12 });
      assert.equal(got.tokenIds.length, 12);
      const calls = (await predictRoutesCalls(mesh.predictor!.metrics!)) - before;
      if (consumes) assert.ok(calls >= 10, `expertflow: ${calls} PredictRoutes calls for 12 tokens`);
      else assert.equal(calls, 0, `lru: ${calls} PredictRoutes calls`);
    } finally {
      client.close();
      await mesh.stop();
    }
  });
}
