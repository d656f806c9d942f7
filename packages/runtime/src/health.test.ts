import { HealthClient, ServingStatus, type HealthCheckResponse } from "@expertmesh/proto";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { silentLogger } from "./logger.js";
import { createServer, type Server } from "./server.js";
import { testShardService, unary } from "./testing.js";

const SHARD = "expertmesh.v1.ExpertShardService";
let server: Server;
let client: HealthClient;

before(async () => {
  server = await createServer({ name: "health-test", services: [testShardService()], signals: [], logger: silentLogger });
  client = new HealthClient(server.address, credentials.createInsecure());
});

after(() => {
  client.close();
  server.forceShutdown();
});

test("Check reports SERVING for each registered service and for the server as a whole", async () => {
  for (const service of [SHARD, ""]) {
    const response = await unary(client.check.bind(client), { service });
    assert.equal(response.status, ServingStatus.SERVING, `service ${JSON.stringify(service)}`);
  }
});

test("Check of an unknown service fails with NOT_FOUND", async () => {
  await assert.rejects(unary(client.check.bind(client), { service: "no.Such" }), (e: ServiceError) => e.code === status.NOT_FOUND);
});

test("List names the health service's view of every registered service", async () => {
  const response = await unary(client.list.bind(client), {});
  assert.deepEqual(Object.keys(response.statuses).sort(), ["", SHARD]);
});

test("Watch streams SERVING, then NOT_SERVING when the server drains, then ends", async () => {
  const call = client.watch({ service: SHARD }, new Metadata());
  const seen: ServingStatus[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    call.on("data", (response: HealthCheckResponse) => {
      seen.push(response.status);
      if (response.status === ServingStatus.SERVING) void server.drain({ timeoutMs: 5_000 });
    });
    call.on("error", reject);
    call.on("end", resolve);
  });
  await ended;
  assert.deepEqual(seen, [ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
});
