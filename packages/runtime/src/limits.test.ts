import { status, type ServiceError } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "./logger.js";
import { createServer } from "./server.js";
import { float32Tensor } from "./tensor.js";
import { TEST_HIDDEN, testShardClient, testShardService, unary } from "./testing.js";

const LIMIT = 64 * 1024;

function requestOf(tokens: number) {
  return {
    layer: 0,
    inputs: [{ expertId: 0, hiddenStates: float32Tensor(new Float32Array(tokens * TEST_HIDDEN), [tokens, TEST_HIDDEN]) }],
  };
}

test("a request above the server's receive limit fails with RESOURCE_EXHAUSTED naming the limit", async () => {
  let handled = 0;
  const server = await createServer({
    name: "limits-test",
    services: [testShardService({ beforeRunExperts: () => void handled++ })],
    limits: { maxReceiveMessageBytes: LIMIT },
    signals: [],
    logger: silentLogger,
  });
  // The client may send more than the server accepts.
  const client = testShardClient(server.address, { maxSendMessageBytes: 4 * LIMIT });
  try {
    const small = await unary(client.runExperts.bind(client), requestOf(16)); // 1 KiB
    assert.equal(small.outputs.length, 1);

    const tokens = Math.ceil(LIMIT / (4 * TEST_HIDDEN)) + 1; // just above 64 KiB of float32
    const error = await unary(client.runExperts.bind(client), requestOf(tokens)).then(
      () => assert.fail("an oversized request was accepted"),
      (e: ServiceError) => e,
    );
    assert.equal(error.code, status.RESOURCE_EXHAUSTED);
    assert.match(error.details, new RegExp(`\\b${LIMIT}\\b`), `details should name the limit: ${error.details}`);
    assert.equal(handled, 1, "the handler must not see the oversized request");
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test("a client refuses to send a request above its own send limit", async () => {
  const server = await createServer({ name: "limits-test", services: [testShardService()], signals: [], logger: silentLogger });
  const client = testShardClient(server.address, { maxSendMessageBytes: LIMIT });
  try {
    const error = await unary(client.runExperts.bind(client), requestOf((2 * LIMIT) / (4 * TEST_HIDDEN))).then(
      () => assert.fail("an oversized request was sent"),
      (e: ServiceError) => e,
    );
    assert.equal(error.code, status.RESOURCE_EXHAUSTED);
  } finally {
    client.close();
    server.forceShutdown();
  }
});
