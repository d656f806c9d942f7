import assert from "node:assert/strict";
import { test } from "node:test";
import { LruPolicy } from "./cache-policy.js";
import { TieredExpertCache, type TierLoader } from "./cache-tiered.js";

const BYTES = 100;

/** A loader that records calls and tracks how many experts are live on the device. */
function recordingLoader(delayMs = () => 0) {
  const calls = { host: [] as number[], device: [] as number[], dropped: [] as number[] };
  let live = 0;
  let maxLive = 0;
  const sleep = () => new Promise((r) => setTimeout(r, delayMs()));
  const loader: TierLoader<string, string> = {
    async loadHost(k) {
      calls.host.push(k);
      await sleep();
      return `host${k}`;
    },
    async toDevice(k, h) {
      calls.device.push(k);
      live++;
      maxLive = Math.max(maxLive, live);
      await sleep();
      return `dev:${h}`;
    },
    dropDevice(k) {
      calls.dropped.push(k);
      live--;
    },
  };
  return { loader, calls, maxLive: () => maxLive };
}

const make = (slots: number, hostSlots: number, loader: TierLoader<string, string>) =>
  new TieredExpertCache({
    expertBytes: BYTES,
    deviceBudgetBytes: slots * BYTES + 50,
    hostBudgetBytes: hostSlots * BYTES,
    loader,
    policy: new LruPolicy(),
  });

async function use(cache: TieredExpertCache<string, string>, key: number): Promise<boolean> {
  const a = await cache.acquire(key);
  a.release();
  return a.hit;
}

test("LRU on a hand-made trace: 2 slots, accesses 1 2 1 3 2 1", async () => {
  const { loader, calls } = recordingLoader();
  const cache = make(2, 0, loader);
  const hits = [];
  for (const k of [1, 2, 1, 3, 2, 1]) hits.push(await use(cache, k));
  // 1 miss, 2 miss, 1 hit, 3 miss (evicts 2), 2 miss (evicts 1), 1 miss (evicts 3)
  assert.deepEqual(hits, [false, false, true, false, false, false]);
  assert.deepEqual(calls.dropped, [2, 1, 3]);
  assert.equal(cache.counters.hits, 1);
  assert.equal(cache.counters.misses, 5);
  assert.equal(cache.counters.loads, 5);
  assert.equal(cache.counters.bytesToDevice, 5 * BYTES);
  assert.deepEqual(cache.deviceResident().sort(), [1, 2]);
});

test("concurrent requests for one expert start one load", async () => {
  const { loader, calls } = recordingLoader(() => 5);
  const cache = make(2, 2, loader);
  const got = await Promise.all([cache.acquire(7), cache.acquire(7), cache.prefetch(7), cache.acquire(7)]);
  assert.deepEqual(calls.host, [7]);
  assert.deepEqual(calls.device, [7]);
  assert.equal(cache.counters.loads, 1);
  for (const g of got) if (g) g.release();
});

test("the device budget holds under concurrent churn, and pinned experts are never evicted", async () => {
  const { loader, maxLive } = recordingLoader(() => Math.random() * 3);
  const cache = make(3, 4, loader);
  let inUse = new Set<number>();
  const worker = async (seed: number) => {
    for (let i = 0; i < 60; i++) {
      const key = (seed * 7 + i * 13) % 10;
      const a = await cache.acquire(key);
      assert.ok(cache.deviceResident().includes(key));
      inUse.add(key);
      await new Promise((r) => setTimeout(r, Math.random() * 2));
      assert.ok(cache.deviceResident().includes(key), `pinned expert ${key} stays resident`);
      inUse.delete(key);
      a.release();
      if (i % 5 === 0) await cache.prefetch((key + 1) % 10);
      assert.ok(cache.deviceBytes() <= 3 * BYTES);
    }
  };
  await Promise.all([worker(1), worker(2), worker(3)]);
  inUse = new Set();
  assert.ok(maxLive() <= 3, `at most 3 experts live on the device, saw ${maxLive()}`);
  assert.equal(cache.counters.hits + cache.counters.misses, 180);
});

test("an expert evicted from the device is reloaded from the host tier, not from disk", async () => {
  const { loader, calls } = recordingLoader();
  const cache = make(1, 2, loader);
  for (const k of [1, 2, 1]) await use(cache, k);
  assert.deepEqual(calls.host, [1, 2]);
  assert.equal(cache.counters.hostHits, 1);
  assert.equal(cache.counters.diskReads, 2);
});

test("a budget smaller than one expert is refused", () => {
  const { loader } = recordingLoader();
  assert.throws(() => make(0, 0, loader), /device budget 50 bytes holds no expert of 100 bytes/);
});

test("a failed load is reported to every waiter and can be retried", async () => {
  let fail = true;
  const cache = new TieredExpertCache<string, string>({
    expertBytes: BYTES,
    deviceBudgetBytes: BYTES,
    hostBudgetBytes: 0,
    policy: new LruPolicy(),
    loader: {
      loadHost: async (k) => {
        if (fail) throw new Error(`disk error on ${k}`);
        return "h";
      },
      toDevice: async (_, h) => h,
    },
  });
  const settled = await Promise.allSettled([cache.acquire(3), cache.acquire(3)]);
  for (const r of settled) assert.match(String(r.status === "rejected" && r.reason), /disk error on 3/);
  fail = false;
  assert.equal(await use(cache, 3), false);
  assert.equal(cache.deviceResident().length, 1);
});

test("a demand acquire waiting while prefetches fill every slot gets a slot as soon as they land", async () => {
  // 2 slots, both taken by prefetches under way: the acquire finds no victim and waits. Nothing else
  // unpins, so only the prefetches' completion can wake it (the 2-slot shard deadlock of issue 10).
  const { loader } = recordingLoader(() => 5);
  const cache = make(2, 4, loader);
  const prefetches = [cache.prefetch(1), cache.prefetch(2)];
  const acquired = cache.acquire(3);
  const outcome = await Promise.race([acquired.then(() => "acquired"), new Promise((r) => setTimeout(() => r("stuck"), 500))]);
  assert.equal(outcome, "acquired");
  await Promise.all(prefetches);
  (await acquired).release();
  assert.equal(cache.counters.loads, 3);
});
