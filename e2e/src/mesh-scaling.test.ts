// A mesh grows from 2 to 3 shards while it serves: three shards started for a 3-shard placement join
// through their NATS heartbeats, the router moves its dispatch to them once they cover every expert
// (services/router/src/engine/placement-tracker.ts), and the 2 original shards can then go. Greedy output
// equals the in-process runtime token for token before, during and after the change.
import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ExpertMeshClient } from "@expertmesh/client";
import { freePort, ManagedProcess, startMesh } from "@expertmesh/cli/launcher";
import { BUNDLED_MODEL_DIR } from "@expertmesh/model";
import { waitForServing } from "@expertmesh/runtime";
import { PROMPTS, referenceTokens, releaseReference } from "./reference.js";

const SHARD_MAIN = resolve(join(dirname(fileURLToPath(import.meta.url)), "../../services/expert-shard/dist/main.js"));
const MAX_TOKENS = 16;
const HEARTBEAT = ["--heartbeat-interval", "200ms"];

after(releaseReference);

async function waitFor(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("a mesh that grows from 2 to 3 shards keeps serving the in-process output, and no longer needs the old shards", async () => {
  const want = await Promise.all(PROMPTS.map((p) => referenceTokens(p, MAX_TOKENS)));
  const lines: string[] = [];
  const mesh = await startMesh({
    shards: 2,
    replicas: 1,
    predictor: false,
    shardArgs: HEARTBEAT,
    log: (l) => lines.push(l),
    routerArgs: ["--allowed-shard-addresses", "127.0.0.1:*"], // the new shards listen on ports not known in advance
  });
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
  const joined: ManagedProcess[] = [];
  const completeAll = () => Promise.all(PROMPTS.map((p) => client.complete(p, { maxTokens: MAX_TOKENS })));
  const check = (got: Awaited<ReturnType<typeof completeAll>>, when: string) =>
    got.forEach((g, i) => {
      assert.deepEqual(g.tokenIds, want[i], `${when}, prompt ${i}`);
    });
  try {
    check(await completeAll(), "2 shards");

    // Generations in flight while the 3 new shards start and the router switches.
    const during = completeAll();
    const deadline = Date.now() + 60_000;
    for (let id = 0; id < 3; id++) {
      const port = await freePort();
      const proc = ManagedProcess.start(
        `shard3-${id}`,
        process.execPath,
        [
          SHARD_MAIN,
          "--model",
          BUNDLED_MODEL_DIR,
          "--shard-id",
          String(id),
          "--shards",
          "3",
          "--replicas",
          "1",
          "--device-budget",
          "100%",
          "--port",
          String(port),
          ...HEARTBEAT,
          ...mesh.extraShard(id).args,
        ],
        { env: mesh.extraShard(id).env },
      );
      joined.push(proc);
      await waitForServing(`127.0.0.1:${port}`, "expertmesh.v1.ExpertShardService", deadline, { credentials: mesh.credentials() });
    }
    await waitFor(
      "the router to move to 3 shards",
      () => lines.some((l) => l.includes("shard layout changed") && l.includes('"shards":3')),
      15_000,
    );
    check(await during, "during the change");
    check(await completeAll(), "3 shards beside the old 2");

    // The old shards go: the router serves from the 3 new ones alone.
    await Promise.all(mesh.shards.map((s) => s.process.stop()));
    check(await completeAll(), "3 shards alone");
  } finally {
    client.close();
    for (const p of joined) await p.stop();
    await mesh.stop();
  }
});
