import { RunExpertsRequest } from "@expertmesh/proto";
import { status, type ServiceError } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { connect } from "node:http2";
import { test } from "node:test";
import { DeadlineExceededError } from "./errors.js";
import { silentLogger } from "./logger.js";
import { createServer } from "./server.js";
import { testShardClient, testShardService, unary } from "./testing.js";

test("a call whose deadline has already passed on arrival gets DEADLINE_EXCEEDED and never runs", async () => {
  let handled = 0;
  const server = await createServer({
    name: "deadline-test",
    services: [testShardService({ beforeRunExperts: () => void handled++ })],
    signals: [],
    logger: silentLogger,
  });
  try {
    // A raw HTTP/2 gRPC request with a 1 ns timeout: expired by the time the server reads it.
    const session = connect(`http://${server.address}`);
    const message = Buffer.from(RunExpertsRequest.encode({ layer: 0, inputs: [] }).finish());
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const stream = session.request({
      ":method": "POST",
      ":path": "/expertmesh.v1.ExpertShardService/RunExperts",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": "1n",
    });
    stream.end(frame);
    const grpcStatus = await new Promise<string | undefined>((resolve, reject) => {
      stream.on("response", (headers) => headers["grpc-status"] !== undefined && resolve(String(headers["grpc-status"])));
      stream.on("trailers", (trailers) => resolve(String(trailers["grpc-status"])));
      stream.on("error", reject);
      stream.resume();
    });
    session.close();
    assert.equal(Number(grpcStatus), status.DEADLINE_EXCEEDED);
    assert.equal(handled, 0);
  } finally {
    server.forceShutdown();
  }
});

test("a handler sees its deadline pass through ctx.signal, and the client gets DEADLINE_EXCEEDED", async () => {
  let reason: unknown;
  const server = await createServer({
    name: "deadline-test",
    services: [
      testShardService({
        beforeRunExperts: (_request, ctx) =>
          new Promise<void>((_resolve, reject) => {
            assert.ok(ctx.remainingMs() > 0 && ctx.remainingMs() <= 200);
            ctx.signal.addEventListener("abort", () => {
              reason = ctx.signal.reason;
              reject(ctx.signal.reason);
            });
          }),
      }),
    ],
    signals: [],
    logger: silentLogger,
  });
  const client = testShardClient(server.address);
  try {
    const error = await unary(client.runExperts.bind(client), { layer: 0, inputs: [] }, { deadline: Date.now() + 200 }).then(
      () => assert.fail("the call succeeded"),
      (e: ServiceError) => e,
    );
    assert.equal(error.code, status.DEADLINE_EXCEEDED);
    await waitFor(() => reason !== undefined);
    assert.ok(reason instanceof DeadlineExceededError);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
