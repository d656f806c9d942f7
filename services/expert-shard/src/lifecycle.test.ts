import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { ServingStatus } from "@expertmesh/proto";
import { bundledSizes, failure, hidden, shardClient, startShard, until } from "./testing.js";

// A large call: 8 experts x 4,096 tokens (16 MiB of hidden states) keeps a compute worker busy for a while.
// These run the shard with compute workers (--compute worker): the thread that serves calls stays free.
const { D, L, E, expertBytes } = bundledSizes();
const EXPERTS = [0, 1, 2, 3, 4, 5, 6, 7];
const bigCall = (seed: number) => ({
  layer: 0,
  inputs: EXPERTS.map((expertId, i) => ({ expertId, hiddenStates: hidden(4096, D, seed + i) })),
});
const SIZE_FLAGS = ["--max-tokens-per-call", "32768", "--device-budget", "100%"];
const BIG_FLAGS = [...SIZE_FLAGS, "--compute", "worker"];

// Inline, the experts compute on the thread that answers health checks: an expert's rows run in pieces
// of about a millisecond (compute-handlers RUN_MACS), and the checks are answered between two of them.
// One expert of 32,768 rows: without the pieces it would be one run that no check could interleave.
const oneExpertCall = { layer: 0, inputs: [{ expertId: 5, hiddenStates: hidden(32_768, D, 9) }] };
for (const compute of ["worker", "inline"]) {
  test(`health checks are answered while a large RunExperts computes (--compute ${compute})`, async () => {
    const shard = await startShard([...SIZE_FLAGS, "--compute", compute]);
    const client = shardClient(shard.address);
    try {
      let done = false;
      const call = client.runExperts(oneExpertCall).finally(() => (done = true));
      let answeredDuringCompute = 0;
      while (!done) {
        const health = await client.check();
        assert.equal(health.status, ServingStatus.SERVING);
        if (!done && shard.shard.snapshot().computeQueued > 0) answeredDuringCompute++;
      }
      assert.equal((await call).outputs.length, 1);
      assert.ok(answeredDuringCompute > 0, "no health check was answered while the experts were computing");
    } finally {
      client.close();
      await shard.drain();
    }
  });
}

test("a cancelled RunExperts starts no new work, and the shard keeps serving", async () => {
  const shard = await startShard(BIG_FLAGS);
  const client = shardClient(shard.address);
  try {
    const before = shard.shard.snapshot().counters;
    const cancel = new AbortController();
    const call = failure(client.runExperts(bigCall(2), { signal: cancel.signal }));
    await until(() => shard.shard.snapshot().counters.runsStarted! > before.runsStarted!, 10_000, "the first run");
    cancel.abort();
    assert.equal((await call).code, status.CANCELLED);
    await until(() => shard.shard.inFlight === 0, 10_000, "the call to end on the shard");
    const after = shard.shard.snapshot().counters;
    assert.ok(after.runsStarted! - before.runsStarted! < EXPERTS.length, "every run started despite the cancellation");
    const ok = await client.runExperts({ layer: 0, inputs: [{ expertId: 3, hiddenStates: hidden(2, D, 7) }] });
    assert.equal(ok.outputs.length, 1);
  } finally {
    client.close();
    await shard.drain();
  }
});

test("calls beyond max-concurrent-calls get RESOURCE_EXHAUSTED at once, naming the limit", async () => {
  const shard = await startShard([...BIG_FLAGS, "--max-concurrent-calls", "1"]);
  const client = shardClient(shard.address);
  try {
    const first = client.runExperts(bigCall(4));
    await until(() => shard.shard.inFlight === 1, 10_000, "the first call");
    const second = await failure(client.runExperts({ layer: 0, inputs: [{ expertId: 1, hiddenStates: hidden(1, D, 1) }] }));
    assert.equal(second.code, status.RESOURCE_EXHAUSTED);
    assert.match(second.message, /limit of 1 concurrent calls .* call 2/);
    assert.equal((await first).outputs.length, EXPERTS.length);
  } finally {
    client.close();
    await shard.drain();
  }
});

test("drain lets an in-flight RunExperts finish, refuses new calls, then stops the compute workers", async () => {
  const shard = await startShard(BIG_FLAGS);
  const client = shardClient(shard.address);
  try {
    const call = client.runExperts(bigCall(3));
    await until(() => shard.shard.snapshot().counters.runsStarted! > 0, 10_000, "the first run");
    const drained = shard.drain({ timeoutMs: 20_000 });
    const refused = await failure(client.cacheStats());
    assert.equal(refused.code, status.UNAVAILABLE);
    const response = await call;
    assert.equal(response.outputs.length, EXPERTS.length);
    assert.ok(response.outputs.every((o) => o.output?.data.byteLength === 4096 * D * 4));
    const result = await drained;
    assert.deepEqual(
      { inFlightAtStart: result.inFlightAtStart, abandoned: result.abandoned, forced: result.forced },
      {
        inFlightAtStart: 1,
        abandoned: 0,
        forced: false,
      },
    );
    // The workers are gone: compute is refused (UNAVAILABLE: a replica can serve it).
    const gone = await shard.shard.compute(shard.shard.key(0, 0), new Float32Array(D), 1).then(
      () => assert.fail("computed after the drain"),
      (error: { code?: number }) => error,
    );
    assert.equal(gone.code, status.UNAVAILABLE);
  } finally {
    client.close();
  }
});

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

test("the shard process serves, drains on SIGTERM and exits by itself with status 0", async () => {
  const child = spawn(process.execPath, [MAIN, "--port", "0", "--shards", "2", "--shard-id", "1"], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = once(child, "exit");
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  try {
    await until(() => /"message":"expert shard ready"/.test(stderr), 15_000, "the shard to start");
    const ready = JSON.parse(stderr.split("\n").find((line) => line.includes('"expert shard ready"'))!) as {
      address: string;
      owned: number;
    };
    assert.equal(ready.owned, (L * E) / 2);
    const client = shardClient(ready.address);
    const response = await client.runExperts({ layer: 0, inputs: [{ expertId: 1, hiddenStates: hidden(3, D, 1) }] });
    client.close();
    assert.equal(response.outputs[0]?.output?.shape.join(","), `3,${D}`);
    child.kill("SIGTERM");
    const timeout = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const [code, signal] = await exited;
    clearTimeout(timeout);
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
    assert.match(stderr, /"message":"stopped"/);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("a device budget that holds no expert stops the process at start-up, naming the key", async () => {
  const child = spawn(process.execPath, [MAIN, "--port", "0", "--device-budget", "1KiB"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const [code] = await once(child, "exit");
  assert.equal(code, 2, stderr);
  assert.ok(stderr.includes(`config deviceBudget: "1KiB" is 1024 bytes, less than one expert (${expertBytes} bytes)`), stderr);
});
