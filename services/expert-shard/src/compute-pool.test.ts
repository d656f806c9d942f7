import assert from "node:assert/strict";
import { test } from "node:test";
import { BUNDLED_MODEL_DIR, Checkpoint, DEFAULT_SESSION_CONFIG, LocalExpertRunner, readExpertPayload } from "@expertmesh/model";
import { OWN_SESSION_AFTER_RUNS } from "./compute-handlers.js";
import { ComputePool } from "./compute-pool.js";
import { WorkerGoneError } from "./worker-rpc.js";
import { randomValues, until } from "./testing.js";

const ckpt = Checkpoint.open(BUNDLED_MODEL_DIR);
const { hiddenSize: D, intermediateSize: F } = ckpt.config;
const EXPERTS = [0, 1, 2, 3, 4, 5, 6, 7];
const ROWS = 2048; // each run takes a while, so that a cancel lands while the job is on its worker

const xOf = (seed: number, rows = ROWS): Float32Array => randomValues(rows * D, seed);

for (const compute of ["worker", "inline"] as const) {
  test(`${compute}: a cancel stops the experts of a job already handed to its compute, and the pool keeps serving`, async () => {
    const pool = await ComputePool.start({ workers: 1, compute, hiddenSize: D, intermediateSize: F, threads: 1, provider: "cpu" });
    const reference = await LocalExpertRunner.create(ckpt, DEFAULT_SESSION_CONFIG);
    try {
      const experts = await Promise.all(EXPERTS.map((e) => pool.load(e, readExpertPayload(ckpt, 0, e))));
      const cancel = new AbortController();
      const job = pool.runMany(
        experts.map((expert, i) => ({ expert, x: xOf(i), rows: ROWS })),
        cancel.signal,
      );
      // The job is no longer queued: it is on its worker (or computing inline) once runMany returns.
      assert.equal(pool.busy, 1);
      cancel.abort(new Error("cancelled by the test"));
      await assert.rejects(job, /cancelled by the test/);
      assert.equal(pool.runsStarted, EXPERTS.length);
      assert.ok(pool.runsDropped >= EXPERTS.length - 1, `only ${pool.runsDropped} of ${EXPERTS.length} runs were dropped`);
      assert.equal(pool.busy, 0);

      // The next job computes every expert, as the in-process runner does.
      const xs = [xOf(11, 3), xOf(12, 1)];
      const want = await reference.run(0, [
        { expert: 2, x: xs[0]!.slice(), rows: 3 },
        { expert: 5, x: xs[1]!.slice(), rows: 1 },
      ]);
      const got = await pool.runMany([
        { expert: experts[2]!, x: xs[0]!, rows: 3 },
        { expert: experts[5]!, x: xs[1]!, rows: 1 },
      ]);
      got.forEach((y, i) => {
        assert.equal(y.length, want[i]!.length);
        y.forEach((v, j) => {
          assert.ok(Math.abs(v - want[i]![j]!) <= 1e-5, `expert ${i} value ${j}: ${v} vs ${want[i]![j]}`);
        });
      });
      // Once closed, nothing computes (the shard answers UNAVAILABLE: a replica can serve the call).
      await pool.close();
      await assert.rejects(pool.run(experts[2]!, xOf(13, 1), 1), WorkerGoneError);
    } finally {
      await reference.release();
      await pool.close();
    }
  });
}

for (const compute of ["worker", "inline"] as const) {
  test(`${compute}: an f32 expert run often gets its own session and computes as before`, async () => {
    const pool = await ComputePool.start({ workers: 1, compute, hiddenSize: D, intermediateSize: F, threads: 1, provider: "cpu" });
    const reference = await LocalExpertRunner.create(ckpt, DEFAULT_SESSION_CONFIG);
    try {
      const [often, seldom] = await Promise.all([3, 4].map((e) => pool.load(e, readExpertPayload(ckpt, 1, e))));
      const x = xOf(21, 5);
      const [want] = await reference.run(1, [{ expert: 3, x: x.slice(), rows: 5 }]);
      const check = (y: Float32Array, when: string): void => {
        assert.equal(y.length, want!.length);
        y.forEach((v, j) => {
          assert.ok(Math.abs(v - want![j]!) <= 1e-5, `${when}, value ${j}: ${v} vs ${want![j]}`);
        });
      };
      check(await pool.run(often!, x.slice(), 5), "first run");
      for (let i = 1; i < OWN_SESSION_AFTER_RUNS; i++) await pool.run(often!, x.slice(), 5);
      await pool.run(seldom!, x.slice(), 5);
      await until(async () => (await pool.ownSessionsPerWorker())[0] === 1, 10_000, "the expert's own session");
      check(await pool.run(often!, x.slice(), 5), "on its own session");
      pool.drop(often!);
      await until(async () => (await pool.ownSessionsPerWorker())[0] === 0, 10_000, "the session to go with the expert");
    } finally {
      await reference.release();
      await pool.close();
    }
  });
}
