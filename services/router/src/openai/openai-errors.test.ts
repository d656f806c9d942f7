import assert from "node:assert/strict";
import { test } from "node:test";
import { CancelledError, DeadlineExceededError, InvalidArgumentError, ResourceExhaustedError, UnavailableError } from "@expertmesh/runtime";
import { httpError } from "./openai-errors.js";

test("each error class gets its HTTP status and OpenAI error type", () => {
  const cases: [unknown, number, string][] = [
    [new InvalidArgumentError("prompt", "is empty"), 400, "invalid_request_error"],
    [new InvalidArgumentError("model", "unknown model", { reason: "UNKNOWN_MODEL" }), 404, "invalid_request_error"],
    [new ResourceExhaustedError("queue", "full", { retryAfterMs: 500 }), 429, "rate_limit_error"],
    [new UnavailableError("shard down"), 503, "service_unavailable_error"],
    [new DeadlineExceededError("late"), 504, "timeout_error"],
    [new CancelledError("gone"), 499, "cancelled_error"],
    [new Error("secret detail"), 500, "server_error"],
  ];
  for (const [error, status, type] of cases) {
    const h = httpError(error);
    assert.equal(h.status, status, String(error));
    assert.equal(h.body.error.type, type);
  }
  assert.equal(httpError(new Error("secret detail")).body.error.message, "internal error");
  assert.equal(httpError(new ResourceExhaustedError("queue", "full", { retryAfterMs: 500 })).retryAfterS, 1);
});

test("a gRPC field name becomes the HTTP body's: sampling.max_tokens is max_tokens, in param and message", () => {
  const h = httpError(new InvalidArgumentError("sampling.max_tokens", "600 is above the context length 512"));
  assert.equal(h.body.error.param, "max_tokens");
  assert.equal(h.body.error.message, "max_tokens: 600 is above the context length 512");
  assert.equal(h.body.error.code, "invalid_argument");
});
