import { status, type ServiceError } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { errorFromStatus } from "./error-status.js";
import { silentLogger } from "./logger.js";
import { createServer } from "./server.js";
import { testShardClient, testShardService, unary } from "./testing.js";
import { float32Tensor } from "./tensor.js";
import { TEST_HIDDEN } from "./testing.js";

const request = {
  layer: 0,
  inputs: [{ expertId: 1, hiddenStates: float32Tensor(new Float32Array(TEST_HIDDEN).fill(1), [1, TEST_HIDDEN]) }],
};

test("drain lets an in-flight call finish while refusing new calls, then stops", async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const server = await createServer({
    name: "drain-test",
    services: [
      testShardService({
        beforeRunExperts: () => {
          started();
          return gate;
        },
      }),
    ],
    signals: [],
    logger: silentLogger,
  });
  const client = testShardClient(server.address);
  try {
    const inFlight = unary(client.runExperts.bind(client), request);
    await running;
    const drained = server.drain({ timeoutMs: 10_000 });

    // A new call on the same connection is refused, naming the reason.
    const refused = await unary(client.cacheStats.bind(client), {}).then(
      () => assert.fail("a call during drain was accepted"),
      (e: ServiceError) => e,
    );
    assert.equal(refused.code, status.UNAVAILABLE);
    assert.equal(errorFromStatus(refused).reason, "DRAINING");
    assert.equal(server.inFlight, 1);

    release();
    const response = await inFlight;
    assert.equal(response.outputs[0]?.output?.shape.join(","), `1,${TEST_HIDDEN}`);
    const result = await drained;
    assert.equal(await server.stopped, result);
    assert.deepEqual(
      { inFlightAtStart: result.inFlightAtStart, abandoned: result.abandoned, forced: result.forced },
      {
        inFlightAtStart: 1,
        abandoned: 0,
        forced: false,
      },
    );

    // Once stopped, nothing listens: a fresh connection fails.
    const fresh = testShardClient(server.address);
    await assert.rejects(unary(fresh.cacheStats.bind(fresh), {}, { deadline: Date.now() + 2_000 }), (e: ServiceError) =>
      [status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes(e.code),
    );
    fresh.close();
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test("a call that outlives the drain timeout is aborted and the client gets CANCELLED", async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const server = await createServer({
    name: "drain-timeout-test",
    services: [
      testShardService({
        // Waits until the server aborts the call's signal, as a long computation that honours it would.
        beforeRunExperts: (_request, ctx) =>
          new Promise<void>((_resolve, reject) => {
            started();
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
          }),
      }),
    ],
    signals: [],
    logger: silentLogger,
  });
  const client = testShardClient(server.address);
  try {
    const inFlight = unary(client.runExperts.bind(client), request).then(
      () => assert.fail("the stuck call succeeded"),
      (e: ServiceError) => e,
    );
    await running;
    const result = await server.drain({ timeoutMs: 100 });
    assert.equal(result.abandoned, 1);
    const error = await inFlight;
    assert.equal(error.code, status.CANCELLED);
    assert.equal(errorFromStatus(error).reason, "SHUTTING_DOWN");
  } finally {
    client.close();
    server.forceShutdown();
  }
});
