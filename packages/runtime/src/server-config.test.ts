// The shared server and NATS keys: a service's config spreads them, and bad combinations fail at start-up
// with a ConfigError naming the key.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, defineConfig } from "./config.js";
import { NATS_CONFIG_KEYS, natsConnectionOptions } from "./nats-config.js";
import { SERVER_CONFIG_KEYS, serverSecurity, upstreamTls } from "./server-config.js";

const config = defineConfig({ envPrefix: "EXPERTMESH_TEST_" }, { ...SERVER_CONFIG_KEYS, ...NATS_CONFIG_KEYS });

test("TLS keys by flag and environment become createServer's tls, limits and connections", () => {
  const c = config.parse(["--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--max-connections", "7"], {
    EXPERTMESH_TEST_TLS_CA: "/ca.pem",
    EXPERTMESH_TEST_TLS_ALLOWED_PEERS: "router,expert-shard-*",
  });
  const s = serverSecurity(c, { clientAuth: "require" });
  assert.deepEqual(s.tls, {
    certFile: "/c.pem",
    keyFile: "/k.pem",
    caFile: "/ca.pem",
    clientAuth: "require",
    allowedPeers: ["router", "expert-shard-*"],
    reloadIntervalMs: 30_000,
  });
  assert.equal(s.connections.maxConnections, 7);
  assert.equal(s.limits.maxConnectionIdleMs, 300_000);
  assert.deepEqual(upstreamTls(c), { caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem" });
});

test("without TLS keys the server is plaintext and its channels too", () => {
  const c = config.parse([], {});
  assert.equal(serverSecurity(c, { clientAuth: "require" }).tls, undefined);
  assert.equal(upstreamTls(c), undefined);
});

test("a certificate without its key, or client certificates without a CA, fail naming the key", () => {
  assert.throws(
    () => serverSecurity(config.parse(["--tls-cert", "/c.pem"], {}), { clientAuth: "none" }),
    (e) => e instanceof ConfigError && e.key === "tlsKey",
  );
  const noCa = config.parse(["--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--tls-client-auth", "require"], {});
  assert.throws(
    () => serverSecurity(noCa, { clientAuth: "none" }),
    (e) => e instanceof ConfigError && e.key === "tlsCa",
  );
});

test("NATS: user and password, TLS files; two authentications at once fail naming the key", () => {
  const c = config.parse(["--nats-user", "router", "--nats-ca", "/ca.pem"], { EXPERTMESH_TEST_NATS_PASSWORD: "pw" });
  assert.deepEqual(natsConnectionOptions(c), { user: "router", pass: "pw", tls: { caFile: "/ca.pem" } });
  assert.throws(
    () => natsConnectionOptions(config.parse(["--nats-user", "a", "--nats-password", "b", "--nats-token", "t"], {})),
    (e) => e instanceof ConfigError && e.key === "natsToken",
  );
  assert.throws(
    () => natsConnectionOptions(config.parse(["--nats-user", "a"], {})),
    (e) => e instanceof ConfigError && e.key === "natsPassword",
  );
});
