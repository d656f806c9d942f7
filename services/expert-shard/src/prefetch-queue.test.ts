import assert from "node:assert/strict";
import { test } from "node:test";
import { PrefetchQueue } from "./prefetch-queue.js";

/** A queue whose loads finish only when the test says so. */
function harness(capacity: number, concurrency = 1) {
  const started: number[] = [];
  const finish = new Map<number, () => void>();
  const queue = new PrefetchQueue({
    capacity,
    concurrency,
    load: (key) => {
      started.push(key);
      return new Promise<void>((resolve) => finish.set(key, resolve));
    },
    onError: () => {},
  });
  const complete = async (key: number) => {
    finish.get(key)!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { queue, started, complete };
}

test("high priority loads go before low ones; a repeat joins the waiting entry, a high repeat promotes it", async () => {
  const { queue, started, complete } = harness(10);
  assert.equal(queue.offer(1, false), "queued"); // starts at once
  assert.equal(queue.offer(2, false), "queued");
  assert.equal(queue.offer(3, false), "queued");
  assert.equal(queue.offer(4, true), "queued");
  assert.equal(queue.offer(3, true), "queued"); // promoted
  assert.equal(queue.offer(2, false), "queued"); // joins
  assert.equal(queue.offer(1, true), "queued"); // already running
  assert.equal(queue.waiting, 3);
  for (const key of [1, 4, 3]) await complete(key);
  assert.deepEqual(started, [1, 4, 3, 2]);
});

test("low priority is dropped once `capacity` low loads wait; high priority never is", () => {
  const { queue } = harness(2);
  assert.deepEqual(
    [1, 2, 3, 4].map((key) => queue.offer(key, false)),
    ["queued", "queued", "queued", "dropped"],
  );
  assert.deepEqual(
    [5, 6, 7, 8].map((key) => queue.offer(key, true)),
    ["queued", "queued", "queued", "queued"],
  );
  assert.equal(queue.waiting, 6);
  queue.close();
  assert.equal(queue.waiting, 0);
  assert.equal(queue.offer(9, true), "dropped");
});

test("at most `concurrency` loads run at once", async () => {
  const { queue, started, complete } = harness(10, 2);
  for (const key of [1, 2, 3, 4]) queue.offer(key, false);
  assert.deepEqual(started, [1, 2]);
  assert.equal(queue.running, 2);
  await complete(2);
  assert.deepEqual(started, [1, 2, 3]);
});
