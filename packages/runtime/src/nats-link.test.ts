// Against a real nats-server (Debian's, on PATH or /usr/sbin) on a free loopback port.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer as createTcpServer } from "node:net";
import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "./logger.js";
import { createNatsLink, type NatsLink } from "./nats-link.js";
import { hintSubject, HINTS_ALL, shardSubject } from "./nats-subjects.js";

const NATS_SERVER = ["/usr/sbin/nats-server", "/usr/bin/nats-server"].find(existsSync) ?? "nats-server";

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startNats(port: number): Promise<ChildProcess> {
  const proc = spawn(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let log = "";
    proc.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("Server is ready")) resolve();
    });
    proc.on("error", reject);
    proc.on("exit", (code) => reject(new Error(`nats-server exited with ${code}: ${log}`)));
  });
  return proc;
}

async function stopNats(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGKILL");
  await exited;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function link(port: number, name: string): NatsLink {
  return createNatsLink({ servers: [`nats://127.0.0.1:${port}`], name, logger: silentLogger, reconnectTimeWaitMs: 100 });
}

test("subjects are versioned and reject tokens that would change their meaning", () => {
  assert.equal(hintSubject(3), "expertmesh.v1.hints.3");
  assert.equal(shardSubject("shard-0"), "expertmesh.v1.shards.shard-0");
  assert.throws(() => shardSubject("a.b"), TypeError);
  assert.throws(() => shardSubject("*"), TypeError);
});

test("a link made while NATS is down drops and counts publishes, connects when NATS comes up, then delivers", async () => {
  const port = await freePort();
  const publisher = link(port, "publisher");
  const subscriber = link(port, "subscriber");
  const received: string[] = [];
  subscriber.subscribe(HINTS_ALL, (msg) => received.push(`${msg.subject} ${msg.string()}`)); // before any connection
  let nats: ChildProcess | undefined;
  try {
    assert.equal(publisher.connected, false);
    assert.equal(publisher.publish(hintSubject(0), "early"), false);
    assert.equal(publisher.stats.dropped, 1);

    nats = await startNats(port);
    await Promise.all([publisher.ready(), subscriber.ready()]);
    await until(() => {
      publisher.publish(hintSubject(1), "hello");
      return received.length > 0;
    });
    assert.equal(received[0], "expertmesh.v1.hints.1 hello");
  } finally {
    await publisher.close();
    await subscriber.close();
    if (nats) await stopNats(nats);
  }
});

test("when NATS dies the link stops publishing and counts drops; it reconnects when NATS returns", async () => {
  const port = await freePort();
  let nats = await startNats(port);
  const publisher = link(port, "publisher");
  const subscriber = link(port, "subscriber");
  const received: string[] = [];
  try {
    await Promise.all([publisher.ready(), subscriber.ready()]);
    subscriber.subscribe(shardSubject("s0"), (msg) => received.push(msg.string()));
    await until(() => {
      publisher.publish(shardSubject("s0"), "before");
      return received.includes("before");
    });

    await stopNats(nats);
    await until(() => !publisher.connected);
    const dropped = publisher.stats.dropped;
    assert.equal(publisher.publish(shardSubject("s0"), "while-down"), false);
    assert.equal(publisher.stats.dropped, dropped + 1);

    nats = await startNats(port);
    await until(() => publisher.connected && subscriber.connected);
    assert.ok(publisher.stats.reconnects >= 1 && publisher.stats.disconnects >= 1);
    await until(() => {
      publisher.publish(shardSubject("s0"), "after");
      return received.includes("after");
    });
    assert.ok(!received.includes("while-down"));
  } finally {
    await publisher.close();
    await subscriber.close();
    await stopNats(nats);
  }
});

test("closing a link that never connected stops its attempts", async () => {
  const port = await freePort();
  const lonely = link(port, "lonely");
  await new Promise((resolve) => setTimeout(resolve, 250));
  await lonely.close();
  await assert.rejects(lonely.ready());
});
