import { ExpertShardServiceService, HealthClient, ServingStatus } from "@expertmesh/proto";
import { credentials } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "./logger.js";
import { createServer } from "./server.js";
import { testShardService, unary } from "./testing.js";

const quiet = { signals: [], logger: silentLogger } as const;

test("a plain { definition, implementation } is served under the name read from its definition", async () => {
  const { implementation } = testShardService();
  const server = await createServer({
    name: "server-test",
    services: [{ definition: ExpertShardServiceService, implementation }],
    ...quiet,
  });
  const client = new HealthClient(server.address, credentials.createInsecure());
  try {
    assert.ok(server.port > 0);
    assert.equal(server.address, `127.0.0.1:${server.port}`);
    const response = await unary(client.check.bind(client), { service: "expertmesh.v1.ExpertShardService" });
    assert.equal(response.status, ServingStatus.SERVING);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test("a service registered twice or missing a handler is refused at start-up", async () => {
  await assert.rejects(
    createServer({ name: "server-test", services: [testShardService(), testShardService()], ...quiet }),
    /registered twice/,
  );
  const { implementation } = testShardService();
  const { cacheStats: _omitted, ...partial } = implementation;
  await assert.rejects(
    createServer({ name: "server-test", services: [{ definition: ExpertShardServiceService, implementation: partial }], ...quiet }),
    /no handler for \/expertmesh\.v1\.ExpertShardService\/CacheStats/,
  );
});
