// `expertmesh bench cache` end to end on a short routing trace of the bundled model: the table's rows add up,
// no policy loads less than Belady, the LRU row is what the simulator gives for LRU, and bad flags are
// refused with the flag named.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { accessStream, decodeSchedule, LruPolicy, readTrace, simulateCache } from "@expertmesh/moe";
import { runCli } from "../testing.js";

const run = runCli;

const TEXT = `The Senate and House of Representatives have met again at a time of peace at home and abroad.
The revenue of the Government has been ample for its wants, and the public debt has been reduced.

We recommend to the Congress that the laws relating to commerce and navigation be revised, that the
currency be made sound, and that the courts of the United States be given the means to do their work.

The condition of the Army and of the Navy calls for attention. Our relations with foreign nations are
friendly, and treaties of commerce have been concluded with several of them during the year.`;

const dir = mkdtempSync(join(tmpdir(), "cli-bench-cache-"));
const tracePath = join(dir, "text.trace");

before(async () => {
  writeFileSync(join(dir, "text.txt"), TEXT);
  const r = await run("trace", "record", "--file", join(dir, "text.txt"), "--out", tracePath);
  assert.equal(r.code, 0, r.stderr);
});

interface Row {
  batch: number; budget_percent: number; capacity: number; policy: string; accesses: number; hit_ratio: number;
  stalls: number; loads: number; demand_loads: number; prefetch_loads: number; bytes: number; hit_ratio_over_belady: number;
}

test("bench cache --json: every policy per budget and batch, counters consistent, Belady the fewest loads", async () => {
  const r = await run("bench", "cache", "--traces", tracePath, "--budgets", "12.5,25", "--batches", "1,2", "--link", "2", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { rows: Row[]; link_budget: number; expert_bytes: number; floors: unknown[] };
  assert.equal(out.link_budget, 2);
  assert.equal(out.rows.length, 2 * 2 * 6);
  const trace = readTrace(tracePath);
  for (const batch of [1, 2]) {
    for (const budget of [12.5, 25]) {
      const group = out.rows.filter((x) => x.batch === batch && x.budget_percent === budget);
      assert.deepEqual(group.map((x) => x.policy), [
        "lru", "lru+prefetch[prev+prior]", "expertflow[predictor]", "expertflow[prev+prior]", "expertflow[oracle]", "belady",
      ]);
      const belady = group.find((x) => x.policy === "belady")!;
      for (const x of group) {
        assert.equal(x.capacity, (budget / 100) * trace.numLayers * trace.numExperts);
        assert.equal(x.stalls, x.demand_loads);
        assert.equal(x.loads, x.demand_loads + x.prefetch_loads);
        assert.equal(x.bytes, x.loads * out.expert_bytes);
        assert.ok(x.loads >= belady.loads, `${x.policy}: ${x.loads} loads < Belady's ${belady.loads}`);
      }
      const lru = simulateCache(accessStream(trace, decodeSchedule(trace, batch)), new LruPolicy(), { capacity: group[0].capacity, expertBytes: 1, linkBudget: 0 });
      assert.equal(group[0].stalls, lru.stalls);
      assert.equal(group[0].accesses, lru.accesses);
    }
  }
});

test("bench cache refuses bad flags, naming them", async () => {
  const budgets = await run("bench", "cache", "--traces", tracePath, "--budgets", "0");
  assert.equal(budgets.code, 2);
  assert.match(budgets.stderr, /--budgets must be a comma-separated list of percentages in \(0, 100\], got "0"/);
  const link = await run("bench", "cache", "--traces", tracePath, "--link=-1");
  assert.match(link.stderr, /--link must be a non-negative integer/);
  const unknown = await run("bench", "nope");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown benchmark "nope" \(expected: cache/);
});
