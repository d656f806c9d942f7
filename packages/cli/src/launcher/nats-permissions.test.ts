// The mesh's nats-server authorization, on a real nats-server: anonymous clients are refused, a shard
// publishes only its own heartbeat subject, and only the router's user can publish hints.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createNatsLink, hintSubject, shardSubject, SHARDS_ALL, HINTS_ALL, silentLogger, type NatsLink } from "@expertmesh/runtime";
import { startNatsServer, findNatsServer } from "./nats-server.js";
import { routerNatsUser, shardNatsUser } from "./nats-permissions.js";
import type { ManagedProcess } from "./child-process.js";

const skip = findNatsServer() === undefined ? "nats-server is not installed (apt-get install nats-server)" : false;
const users = [routerNatsUser("router-pw"), shardNatsUser(0, "shard0-pw"), shardNatsUser(1, "shard1-pw")];
let nats: { process: ManagedProcess; url: string } | undefined;
const links: NatsLink[] = [];

before(async () => {
  if (!skip) nats = await startNatsServer({ users });
});
after(async () => {
  for (const l of links) await l.close();
  await nats?.process.stop();
});

const link = async (user: string, pass: string): Promise<NatsLink> => {
  const l = createNatsLink({ servers: [nats!.url], name: user, logger: silentLogger, connection: { user, pass } });
  links.push(l);
  await l.ready();
  return l;
};

/** Messages that `subscriber` receives on `subject` while `publish` runs, after a flush round. */
async function received(subscriber: NatsLink, subject: string, publish: () => void): Promise<string[]> {
  const got: string[] = [];
  const stop = subscriber.subscribe(subject, (m) => got.push(m.subject));
  await new Promise((r) => setTimeout(r, 100)); // the subscription reaches the server
  publish();
  await new Promise((r) => setTimeout(r, 300));
  stop();
  return got;
}

test("a client without credentials is refused", { skip }, async () => {
  const anonymous = createNatsLink({ servers: [nats!.url], name: "anonymous", logger: silentLogger, reconnectTimeWaitMs: 100 });
  links.push(anonymous);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(anonymous.connected, false);
  const wrong = createNatsLink({
    servers: [nats!.url],
    name: "wrong",
    logger: silentLogger,
    reconnectTimeWaitMs: 100,
    connection: { user: "router", pass: "guess" },
  });
  links.push(wrong);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(wrong.connected, false);
});

test("a shard's user publishes its own heartbeat subject and no other shard's", { skip }, async () => {
  const router = await link("router", "router-pw");
  const shard0 = await link("expert-shard-0", "shard0-pw");
  const got = await received(router, SHARDS_ALL, () => {
    shard0.publish(shardSubject("1"), "forged");
    shard0.publish(shardSubject("0"), "own");
  });
  assert.deepEqual(got, [shardSubject("0")]);
});

test("only the router's user can publish hints", { skip }, async () => {
  const router = await link("router", "router-pw");
  const shard0 = await link("expert-shard-0", "shard0-pw");
  const shard1 = await link("expert-shard-1", "shard1-pw");
  const got = await received(shard1, HINTS_ALL, () => {
    shard0.publish(hintSubject(0), "flood");
    router.publish(hintSubject(1), "hint");
  });
  assert.deepEqual(got, [hintSubject(1)]);
});
