import assert from "node:assert/strict";
import { test } from "node:test";
import { BUNDLED_MODEL_DIR } from "@expertmesh/model";
import { ownBuffer, WorkerClient, WorkerGoneError } from "./worker-rpc.js";

const DISK_WORKER = new URL("./disk-worker.js", import.meta.url);

test("a worker answers requests, transferring the buffers it names", async () => {
  const client = new WorkerClient(DISK_WORKER, { modelDir: BUNDLED_MODEL_DIR }, "disk-worker");
  try {
    const weights = await client.request<{ w1: Float32Array; w3: Float32Array; w2: Float32Array }>("read", { layer: 1, expert: 3 });
    assert.equal(weights.w1.length, weights.w2.length);
    assert.equal(weights.w1.byteOffset, 0);
    await assert.rejects(client.request("read", { layer: 99, expert: 0 }), /disk-worker: /);
    await assert.rejects(client.request("nonsense"), /unknown message type "nonsense"/);
  } finally {
    await client.terminate();
  }
});

test("a worker that dies rejects its pending requests with WorkerGoneError and reports the crash", async () => {
  let crash: Error | undefined;
  const client = new WorkerClient(DISK_WORKER, { modelDir: "/nonexistent/model" }, "disk-worker", (error) => (crash = error));
  await assert.rejects(client.request("read", { layer: 0, expert: 0 }), (error: Error) => error instanceof WorkerGoneError);
  assert.ok(crash instanceof WorkerGoneError);
  assert.match(crash.message, /disk-worker exited \(code 1\).*not found/);
  await assert.rejects(client.request("read", { layer: 0, expert: 0 }), WorkerGoneError);
  await client.terminate();
});

test("ownBuffer keeps an array that owns its buffer and copies a view", () => {
  const whole = new Float32Array(4);
  assert.equal(ownBuffer(whole), whole);
  const view = new Float32Array(whole.buffer, 4, 2);
  const copy = ownBuffer(view);
  assert.notEqual(copy.buffer, whole.buffer);
  assert.deepEqual([...copy], [...view]);
});
