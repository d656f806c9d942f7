// `expertmesh up` as a process: a port it needs that is taken is named before anything starts, and
// its children (router, shard, nats-server) exit when the launcher is SIGKILLed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { CHILDREN_FOLLOW_PARENT, freePort } from "@expertmesh/cli/launcher";

const CLI = resolve(join(dirname(fileURLToPath(import.meta.url)), "../../packages/cli/dist/main.js"));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("up names the taken port and starts nothing", async () => {
  const port = await freePort();
  const holder = createServer().listen(port, "127.0.0.1");
  await new Promise((r) => holder.once("listening", r));
  try {
    const child = spawn(process.execPath, [CLI, "up", "--shards", "1", "--no-predictor", "--port", String(port)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    assert.notEqual(code, 0);
    assert.match(err, new RegExp(`port ${port} \\(router gRPC, --port\\) is already in use`));
    assert.doesNotMatch(err, /serving/);
  } finally {
    holder.close();
  }
});

test(
  "the children of up exit when up is SIGKILLed",
  { skip: CHILDREN_FOLLOW_PARENT ? false : "needs setpriv --pdeathsig (Linux util-linux)" },
  async () => {
    const child = spawn(process.execPath, [CLI, "up", "--shards", "1", "--no-predictor", "--port", "0", "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const ready = await new Promise<{ pids: { router: number; shards: number[]; nats: number | null } }>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`up not ready: ${out}`)), 90_000);
      child.stdout.on("data", () => {
        const line = out.split("\n").find((l) => l.startsWith("{"));
        if (line) {
          clearTimeout(timer);
          resolveReady(JSON.parse(line));
        }
      });
    });
    const pids = [ready.pids.router, ...ready.pids.shards, ...(ready.pids.nats ? [ready.pids.nats] : [])];
    assert.ok(pids.every(alive), "every child runs");
    child.kill("SIGKILL");
    const deadline = Date.now() + 30_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(pids.filter(alive), [], "children still running 30 s after the launcher was SIGKILLed");
  },
);
