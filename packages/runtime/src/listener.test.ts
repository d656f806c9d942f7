// The listener in front of every server, with certificates made for these tests by a local CA
// (openssl): mTLS refusals (no certificate, another CA, expired, a name not allowed, a server name that
// does not match), reload without restart, the connection cap, the idle timeout, and ping policing.
import { HealthClient, ServingStatus } from "@expertmesh/proto";
import type { ChannelCredentials } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { connect as http2Connect, constants as h2 } from "node:http2";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { channelOptions } from "./limits.js";
import { silentLogger } from "./logger.js";
import { MeshMetrics } from "./metrics-registry.js";
import { createServer, type Server, type ServerOptions } from "./server.js";
import { testShardService, unary } from "./testing.js";
import { channelCredentials, channelCredentialsFromFiles } from "./tls-credentials.js";
import { createLocalPki, type LocalPki, type PkiFiles } from "./tls-pki.js";

const quiet = { name: "listener-test", signals: [], logger: silentLogger, services: [testShardService()] } as const;

async function check(address: string, creds: ChannelCredentials): Promise<ServingStatus> {
  const client = new HealthClient(address, creds, channelOptions());
  try {
    return (await unary(client.check.bind(client), { service: "" }, { deadline: Date.now() + 3_000 })).status;
  } finally {
    client.close();
  }
}

const refused = (address: string, creds: ChannelCredentials) => assert.rejects(check(address, creds), /UNAVAILABLE|14/);

describe("mTLS with a local CA", () => {
  let dir: string;
  let pki: LocalPki;
  let other: LocalPki;
  let router: PkiFiles;
  let shard: PkiFiles;
  let stranger: PkiFiles;
  let expired: PkiFiles;
  let foreign: PkiFiles;
  let server: Server;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "expertmesh-tls-"));
    pki = createLocalPki(join(dir, "ca"));
    other = createLocalPki(join(dir, "other"), "other-ca");
    shard = pki.issue({ name: "expert-shard-0" });
    router = pki.issue({ name: "router" });
    stranger = pki.issue({ name: "stranger" });
    expired = pki.issue({ name: "router-expired", sans: ["DNS:router"], days: -1 });
    foreign = other.issue({ name: "router" });
    server = await createServer({
      ...quiet,
      tls: { ...shard, caFile: pki.caFile, clientAuth: "require", allowedPeers: ["router"], reloadIntervalMs: 0 },
    });
  });
  after(() => {
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  const as = (id: PkiFiles, ca = pki.caFile) => channelCredentialsFromFiles({ caFile: ca, ...id });

  test("the right certificate (the CA's, naming an allowed peer) is served", async () => {
    assert.equal(await check(server.address, as(router)), ServingStatus.SERVING);
  });
  test("a client without a certificate is refused", () => refused(server.address, channelCredentialsFromFiles({ caFile: pki.caFile })));
  test("a certificate from another CA is refused", () => refused(server.address, as(foreign)));
  test("an expired certificate is refused", () => refused(server.address, as(expired)));
  test("a certificate of the CA naming no allowed peer is refused", () => refused(server.address, as(stranger)));
  test("plaintext is refused", () => refused(server.address, channelCredentials(undefined)));
  test("a client refuses a server whose certificate does not name the host it dialled", async () => {
    const port = server.port;
    // The shard's certificate names expert-shard-0, localhost and 127.0.0.1, not router.
    await refused(`127.0.0.1:${port}`, channelCredentialsFromFiles({ caFile: pki.caFile, ...router, serverName: "router" }));
    assert.equal(
      await check(`127.0.0.1:${port}`, channelCredentialsFromFiles({ caFile: pki.caFile, ...router, serverName: "expert-shard-0" })),
      ServingStatus.SERVING,
    );
  });
  test("a client refuses a server certificate signed by a CA it does not trust", () => refused(server.address, as(router, other.caFile)));
});

test("certificates are reloaded from their files without a restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "expertmesh-tls-reload-"));
  const first = createLocalPki(join(dir, "first"));
  const second = createLocalPki(join(dir, "second"));
  const live = { certFile: join(dir, "live.crt"), keyFile: join(dir, "live.key") };
  const install = (id: PkiFiles) => {
    copyFileSync(id.keyFile, live.keyFile);
    copyFileSync(id.certFile, live.certFile);
  };
  install(first.issue({ name: "server" }));
  const server = await createServer({ ...quiet, tls: { ...live, reloadIntervalMs: 50 } });
  try {
    const trusting = (ca: string) => channelCredentialsFromFiles({ caFile: ca });
    assert.equal(await check(server.address, trusting(first.caFile)), ServingStatus.SERVING);
    install(second.issue({ name: "server" }));
    let status: ServingStatus | undefined;
    for (let i = 0; i < 100 && status === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await check(server.address, trusting(second.caFile)).catch(() => undefined);
    }
    assert.equal(status, ServingStatus.SERVING, "a client trusting only the new CA is served after the files change");
    await refused(server.address, trusting(first.caFile));
  } finally {
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Resolves when the server closes `socket` (or after `ms`, with false). */
function closedByServer(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, "127.0.0.1");
    socket.resume(); // read what the server sends (its SETTINGS, GOAWAY), so that its close is seen
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, ms);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

test("connections beyond the cap are closed at once and counted", async () => {
  const metrics = new MeshMetrics();
  const server = await createServer({ ...quiet, metrics, connections: { maxConnections: 2 } });
  const held = [netConnect(server.port, "127.0.0.1"), netConnect(server.port, "127.0.0.1")];
  try {
    await Promise.all(held.map((s) => new Promise((r) => s.once("connect", r))));
    for (let i = 0; i < 100 && (await metrics.connectionsOpen.get()).values[0]?.value !== 2; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(await closedByServer(server.port, 5_000), true, "the third connection is closed by the server");
    const refusedCap = (await metrics.connectionsRefused.get()).values.find((v) => v.labels.reason === "cap")?.value;
    assert.equal(refusedCap, 1);
  } finally {
    for (const s of held) s.destroy();
    server.forceShutdown();
  }
});

test("an idle connection is closed after the idle timeout", async () => {
  const server = await createServer({ ...quiet, limits: { maxConnectionIdleMs: 200 } } satisfies ServerOptions);
  try {
    assert.equal(await closedByServer(server.port, 10_000), true);
  } finally {
    server.forceShutdown();
  }
});

test("a client pinging too often gets GOAWAY too_many_pings and loses its connection", async () => {
  const metrics = new MeshMetrics();
  const server = await createServer({ ...quiet, metrics, connections: { minPingIntervalMs: 1_000, maxPingStrikes: 2 } });
  const session = http2Connect(`http://127.0.0.1:${server.port}`);
  session.on("error", () => undefined);
  try {
    const goaway = new Promise<{ code: number; data: string }>((resolve) =>
      session.once("goaway", (code, _last, data) => resolve({ code, data: data?.toString() ?? "" })),
    );
    await new Promise((r) => session.once("connect", r));
    for (let i = 0; i < 10 && !session.destroyed; i++) {
      session.ping(() => undefined);
      await new Promise((r) => setTimeout(r, 5));
    }
    const got = await goaway;
    assert.equal(got.code, h2.NGHTTP2_ENHANCE_YOUR_CALM);
    assert.equal(got.data, "too_many_pings");
    const refusedPings = (await metrics.connectionsRefused.get()).values.find((v) => v.labels.reason === "pings")?.value;
    assert.equal(refusedPings, 1);
  } finally {
    session.destroy();
    server.forceShutdown();
  }
});

test("pings at the allowed interval keep the connection", async () => {
  const server = await createServer({ ...quiet, connections: { minPingIntervalMs: 20, maxPingStrikes: 0 } });
  const session = http2Connect(`http://127.0.0.1:${server.port}`);
  session.on("error", () => undefined);
  try {
    await new Promise((r) => session.once("connect", r));
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve(undefined))));
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.equal(session.destroyed, false);
  } finally {
    session.destroy();
    server.forceShutdown();
  }
});

test("a connection older than the max age gets GOAWAY; the configured max concurrent streams reach the client", async () => {
  const server = await createServer({
    ...quiet,
    limits: { maxConnectionAgeMs: 200, maxConnectionAgeGraceMs: 200, maxConcurrentStreams: 7 },
  });
  const session = http2Connect(`http://127.0.0.1:${server.port}`);
  session.on("error", () => undefined);
  try {
    const goaway = new Promise<number>((resolve) => session.once("goaway", (code) => resolve(code)));
    await new Promise((r) => session.once("remoteSettings", r));
    assert.equal(session.remoteSettings.maxConcurrentStreams, 7);
    assert.equal(await goaway, h2.NGHTTP2_NO_ERROR);
  } finally {
    session.destroy();
    server.forceShutdown();
  }
});
