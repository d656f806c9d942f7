// SIGTERM to a real process: the server drains (an in-flight call completes) and the process exits 0.
import { spawn } from "node:child_process";
import { once } from "node:events";
import assert from "node:assert/strict";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { float32Tensor } from "./tensor.js";
import { TEST_HIDDEN, testShardClient, unary } from "./testing.js";

const child = `
  const { createServer, silentLogger } = await import(${JSON.stringify(new URL("./index.js", import.meta.url).href)});
  const { testShardService } = await import(${JSON.stringify(new URL("./testing.js", import.meta.url).href)});
  const server = await createServer({
    name: "signals-test",
    services: [testShardService({ beforeRunExperts: async () => { console.log("running"); await new Promise((r) => setTimeout(r, 300)); } })],
    logger: silentLogger,
  });
  console.log("address " + server.address);
`;

test("SIGTERM drains: the in-flight call completes and the process exits with 0", async () => {
  const proc = spawn(process.execPath, ["--input-type=module", "-e", child], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = (await lines.next()).value as string;
  assert.match(first, /^address /);
  const client = testShardClient(first.slice("address ".length));
  try {
    const inFlight = unary(client.runExperts.bind(client), {
      layer: 0,
      inputs: [{ expertId: 0, hiddenStates: float32Tensor(new Float32Array(TEST_HIDDEN), [1, TEST_HIDDEN]) }],
    });
    assert.equal((await lines.next()).value, "running");
    const exited = once(proc, "exit");
    proc.kill("SIGTERM");
    const response = await inFlight;
    assert.equal(response.outputs.length, 1);
    const [code, signal] = await exited;
    assert.deepEqual([code, signal], [0, null]);
  } finally {
    client.close();
    proc.kill("SIGKILL");
  }
});
