import { ServingStatus } from "@expertmesh/proto";
import assert from "node:assert/strict";
import { test } from "node:test";
import { waitForServing } from "./client.js";
import { DeadlineExceededError } from "./errors.js";
import { silentLogger } from "./logger.js";
import { createServer } from "./server.js";
import { testShardService } from "./testing.js";

const SHARD = "expertmesh.v1.ExpertShardService";

test("waitForServing resolves once the service turns SERVING", async () => {
  const server = await createServer({
    name: "client-test",
    services: [testShardService()],
    serving: false,
    signals: [],
    logger: silentLogger,
  });
  try {
    setTimeout(() => server.health.set(SHARD, ServingStatus.SERVING), 150);
    const started = Date.now();
    await waitForServing(server.address, SHARD, Date.now() + 5_000);
    assert.ok(Date.now() - started >= 100, "resolved before the service was SERVING");
  } finally {
    server.forceShutdown();
  }
});

test("waitForServing rejects at the deadline naming the last status", async () => {
  const server = await createServer({
    name: "client-test",
    services: [testShardService()],
    serving: false,
    signals: [],
    logger: silentLogger,
  });
  try {
    // Long enough that at least one health check completes on a loaded machine.
    await assert.rejects(waitForServing(server.address, SHARD, Date.now() + 2_000), (error: unknown) => {
      assert.ok(error instanceof DeadlineExceededError);
      assert.match(error.message, /last: NOT_SERVING/);
      return true;
    });
  } finally {
    server.forceShutdown();
  }
});

test("waitForServing keeps trying while nothing listens, then fails at the deadline", async () => {
  const server = await createServer({ name: "client-test", services: [], signals: [], logger: silentLogger });
  const address = server.address;
  server.forceShutdown(); // the port is now (very likely) free and closed
  await assert.rejects(waitForServing(address, "", Date.now() + 2_000), /last: UNAVAILABLE/);
});
