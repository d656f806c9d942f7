import { status, type ServiceError } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { errorFromStatus, readStatusDetails } from "./error-status.js";
import {
  CancelledError,
  DeadlineExceededError,
  type ExpertMeshError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  StatusError,
  UnavailableError,
} from "./errors.js";
import { silentLogger } from "./logger.js";
import { createServer, type Server } from "./server.js";
import { float32Tensor } from "./tensor.js";
import { TEST_HIDDEN, testShardClient, testShardService, unary } from "./testing.js";
import type { ExpertShardServiceClient } from "@expertmesh/proto";

// RunExperts throws whatever `toThrow` holds, so each error class travels over real gRPC.
let toThrow: unknown;
let server: Server;
let client: ExpertShardServiceClient;
const logged: unknown[] = [];

before(async () => {
  server = await createServer({
    name: "errors-test",
    services: [
      testShardService({
        beforeRunExperts: () => {
          if (toThrow !== undefined) throw toThrow;
        },
      }),
    ],
    signals: [],
    logger: { ...silentLogger, error: (_message, fields) => logged.push(fields?.error) },
  });
  client = testShardClient(server.address);
});

after(() => {
  client.close();
  server.forceShutdown();
});

async function failWith(error: unknown): Promise<ServiceError> {
  toThrow = error;
  try {
    await unary(client.runExperts.bind(client), { layer: 0, inputs: [] });
  } catch (e) {
    return e as ServiceError;
  } finally {
    toThrow = undefined;
  }
  return assert.fail("the call succeeded");
}

const cases: { error: ExpertMeshError; code: status; fields: Record<string, unknown> }[] = [
  {
    error: new InvalidArgumentError("sampling.max_tokens", "above the server's limit", {
      limit: 4096,
      value: 10_000,
      reason: "MAX_TOKENS_OUT_OF_RANGE",
    }),
    code: status.INVALID_ARGUMENT,
    fields: { field: "sampling.max_tokens", limit: "4096", value: "10000", message: "sampling.max_tokens: above the server's limit" },
  },
  {
    error: new ResourceExhaustedError("queue", "too many pending requests", {
      limit: 64,
      value: 65,
      retryAfterMs: 250,
      reason: "QUEUE_FULL",
    }),
    code: status.RESOURCE_EXHAUSTED,
    fields: { resource: "queue", limit: "64", value: "65", retryAfterMs: 250 },
  },
  {
    error: new UnavailableError("shard 2 is down", { retryAfterMs: 1_500, reason: "SHARD_DOWN", metadata: { shard: "2" } }),
    code: status.UNAVAILABLE,
    fields: { retryAfterMs: 1_500, extraMetadata: { shard: "2" } },
  },
  {
    error: new DeadlineExceededError("prefill did not finish"),
    code: status.DEADLINE_EXCEEDED,
    fields: { message: "prefill did not finish" },
  },
  {
    error: new NotFoundError("model", "mixtral-9x9b"),
    code: status.NOT_FOUND,
    fields: { resourceType: "model", resourceName: "mixtral-9x9b", message: 'model "mixtral-9x9b" not found' },
  },
  { error: new CancelledError("stopped by the router"), code: status.CANCELLED, fields: {} },
  { error: new InternalError("expert weights corrupt"), code: status.INTERNAL, fields: {} },
  { error: new StatusError(status.UNIMPLEMENTED, "no such thing yet"), code: status.UNIMPLEMENTED, fields: {} },
];

for (const { error, code, fields } of cases) {
  test(`${error.name} (${error.reason}) reaches the client as ${status[code]} with ErrorInfo, and maps back`, async () => {
    const serviceError = await failWith(error);
    assert.equal(serviceError.code, code);
    assert.equal(serviceError.details, error.message);

    const { errorInfo } = readStatusDetails(serviceError.metadata);
    assert.equal(errorInfo?.domain, "expertmesh.dev");
    assert.equal(errorInfo?.reason, error.reason);
    assert.deepEqual(errorInfo?.metadata, error.errorInfoMetadata());

    const back = errorFromStatus(serviceError);
    assert.equal(back.constructor, error.constructor);
    assert.equal(back.name, error.name);
    assert.equal(back.code, code);
    assert.equal(back.reason, error.reason);
    assert.equal(back.message, error.message);
    assert.equal(back.cause, serviceError);
    for (const [key, value] of Object.entries(fields)) assert.deepEqual((back as unknown as Record<string, unknown>)[key], value, key);
  });
}

test("an error that is not an ExpertMeshError becomes INTERNAL without its text, and is logged", async () => {
  const secret = new Error("ECONNREFUSED 10.0.0.7:6379");
  const serviceError = await failWith(secret);
  assert.equal(serviceError.code, status.INTERNAL);
  assert.equal(serviceError.details, "internal error");
  assert.equal(readStatusDetails(serviceError.metadata).errorInfo?.reason, "INTERNAL");
  assert.ok(logged.includes(secret));
});

test("a bad argument found by a handler's own validation names the field, limit and value", async () => {
  const hidden = float32Tensor(new Float32Array(TEST_HIDDEN), [1, TEST_HIDDEN]);
  const serviceError = await unary(client.runExperts.bind(client), { layer: 9, inputs: [{ expertId: 0, hiddenStates: hidden }] }).then(
    () => assert.fail("accepted layer 9"),
    (e: ServiceError) => e,
  );
  const back = errorFromStatus(serviceError);
  assert.ok(back instanceof InvalidArgumentError);
  assert.deepEqual([back.field, back.limit, back.value], ["layer", "3", "9"]);
});

test("errorFromStatus maps a status without details by its code alone", () => {
  const back = errorFromStatus({ code: status.UNAVAILABLE, details: "No connection established" });
  assert.ok(back instanceof UnavailableError);
  assert.equal(back.reason, "UNAVAILABLE");
  assert.equal(back.message, "No connection established");
});
