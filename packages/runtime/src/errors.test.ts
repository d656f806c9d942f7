import { status } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidArgumentError, NotFoundError, ResourceExhaustedError, UnavailableError } from "./errors.js";

test("an error class carries its name, gRPC code, default reason, typed fields and cause", () => {
  const cause = new RangeError("10000 > 4096");
  const error = new InvalidArgumentError("sampling.max_tokens", "too large", { limit: 4096, value: 10_000, cause });
  assert.equal(error.name, "InvalidArgumentError");
  assert.equal(error.code, status.INVALID_ARGUMENT);
  assert.equal(error.reason, "INVALID_ARGUMENT");
  assert.equal(error.message, "sampling.max_tokens: too large");
  assert.equal(error.cause, cause);
  assert.deepEqual(error.errorInfoMetadata(), { field: "sampling.max_tokens", limit: "4096", value: "10000" });
  assert.ok(error instanceof Error);
});

test("typed fields win over extra metadata of the same key; unset fields are left out", () => {
  const error = new ResourceExhaustedError("queue", "full", { limit: 8, metadata: { limit: "x", region: "eu" } });
  assert.deepEqual(error.errorInfoMetadata(), { region: "eu", resource: "queue", limit: "8" });
  assert.deepEqual(new NotFoundError("expert", "3/5").errorInfoMetadata(), { resourceType: "expert", resourceName: "3/5" });
});

test("a reason that is not UPPER_SNAKE_CASE is a programming error", () => {
  assert.throws(() => new UnavailableError("down", { reason: "shardDown" }), TypeError);
  assert.equal(new UnavailableError("down", { reason: "SHARD_DOWN" }).reason, "SHARD_DOWN");
});
