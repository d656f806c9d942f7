import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidArgumentError, UnavailableError } from "@expertmesh/runtime";
import { backoffMs, DEFAULT_RETRY_POLICY, retryPolicy, withRetries } from "./retry.js";

test("backoff is full jitter under a cap that doubles up to the maximum, and never below RetryInfo", () => {
  const p = retryPolicy({ initialBackoffMs: 100, maxBackoffMs: 1000, multiplier: 2 });
  assert.equal(
    backoffMs(p, 1, undefined, () => 1),
    100,
  );
  assert.equal(
    backoffMs(p, 3, undefined, () => 1),
    400,
  );
  assert.equal(
    backoffMs(p, 10, undefined, () => 1),
    1000,
  );
  assert.equal(
    backoffMs(p, 3, undefined, () => 0),
    0,
  );
  assert.equal(
    backoffMs(p, 1, 750, () => 0.5),
    750,
  );
});

test("a bad policy is refused naming the field and the value", () => {
  assert.throws(() => retryPolicy({ maxAttempts: 0 }), /retry\.maxAttempts must be an integer >= 1, got 0/);
  assert.throws(
    () => retryPolicy({ initialBackoffMs: 500, maxBackoffMs: 100 }),
    /retry\.maxBackoffMs must be a finite number >= initialBackoffMs, got 100/,
  );
});

test("UNAVAILABLE is retried until success; other errors are not retried", async () => {
  let calls = 0;
  const ok = await withRetries(retryPolicy({ initialBackoffMs: 1 }), Date.now() + 5000, async () => {
    if (++calls < 3) throw new UnavailableError("down");
    return "up";
  });
  assert.equal(ok, "up");
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(
    withRetries(DEFAULT_RETRY_POLICY, Date.now() + 5000, async () => {
      calls++;
      throw new InvalidArgumentError("prompt", "empty");
    }),
    InvalidArgumentError,
  );
  assert.equal(calls, 1);
});

test("retries stop at maxAttempts and before a wait that would pass the deadline", async () => {
  let calls = 0;
  const fail = async () => {
    calls++;
    throw new UnavailableError("down", { retryAfterMs: 50 });
  };
  await assert.rejects(withRetries(retryPolicy({ maxAttempts: 3, initialBackoffMs: 1 }), Date.now() + 5000, fail), UnavailableError);
  assert.equal(calls, 3);
  calls = 0;
  // Every wait the loop schedules ends before the deadline (checked when it is scheduled, so a loaded
  // machine's late timers cannot fail the test), and the retry after the deadline never happens.
  const deadline = Date.now() + 120;
  const waitsEnd: number[] = [];
  const onRetry = (e: { delayMs: number }) => waitsEnd.push(Date.now() + e.delayMs);
  await assert.rejects(withRetries(retryPolicy({ maxAttempts: 10 }), deadline, fail, { onRetry }), UnavailableError);
  assert.ok(calls >= 1 && calls <= 3, `calls ${calls}`);
  assert.equal(waitsEnd.length, calls - 1);
  for (const end of waitsEnd) assert.ok(end < deadline, `a wait ends ${end - deadline} ms after the deadline`);
});

test("an abort during the backoff rejects with the signal's reason", async () => {
  const abort = new AbortController();
  const p = withRetries(
    retryPolicy({ initialBackoffMs: 1000, maxBackoffMs: 1000 }),
    Date.now() + 60_000,
    async () => {
      throw new UnavailableError("down", { retryAfterMs: 1000 });
    },
    { signal: abort.signal },
  );
  setTimeout(() => abort.abort(new Error("stop")), 20);
  await assert.rejects(p, /stop/);
});
