// `expertmesh bench scheduler` end to end, as users run it: a short text routed by the bundled model,
// replayed as decode windows; the figures keep their order (exact optimum <= oracle regroup <= arrival,
// lower bound below all) and the bundled frequency prior, which predicts the same route for every token,
// leaves arrival order as it is.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../testing.js";

const run = runCli;

const TEXT = `The Senate and House of Representatives have met again at a time of peace at home and abroad.
The revenue of the Government has been ample for its wants, and the public debt has been reduced.

We recommend to the Congress that the laws relating to commerce and navigation be revised, that the
currency be made sound, and that the courts of the United States be given the means to do their work.

The condition of the Army and of the Navy calls for attention. Our relations with foreign nations are
friendly, and treaties of commerce have been concluded with several of them during the year.`;

interface Figure {
  mean: number;
  ratio: number;
}
interface Result {
  batch: number;
  window: number;
  windows: number;
  arrival: Figure;
  lower_bound: Figure;
  schedules: (Figure & { source: string; method: string; ms_per_window: { cpu_mean: number } })[];
  exact?: { windows: number; arrival: number; optimum: number; regroup_oracle: number };
}

test("bench scheduler --json: regrouping on true routes lies between the optimum and arrival; the prior cannot regroup", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-bench-scheduler-"));
  const text = join(dir, "text.txt");
  writeFileSync(text, TEXT);
  const r = await run("bench", "scheduler", "--text", text, "--batches", "2,4", "--seq-len", "8", "--exact-every", "1", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { benchmark: string; results: Result[] };
  assert.equal(out.benchmark, "scheduler");
  assert.deepEqual(
    out.results.map((x) => x.batch),
    [2, 4],
  );
  for (const x of out.results) {
    assert.equal(x.window, 2 * x.batch);
    assert.ok(x.windows > 0, `T=${x.batch}: no window`);
    const find = (source: string, method: string) => x.schedules.find((s) => s.source === source && s.method === method)!;
    const oracle = find("oracle", "regroup");
    assert.ok(oracle.ratio <= 1 + 1e-12, `oracle regroup ratio ${oracle.ratio}`);
    assert.ok(x.lower_bound.mean <= oracle.mean + 1e-12);
    assert.equal(find("predictor-prior.onnx", "regroup").ratio, 1);
    assert.ok(x.exact, "exact optimum computed for W <= 24");
    assert.ok(x.exact.optimum <= x.exact.regroup_oracle + 1e-12 && x.exact.regroup_oracle <= x.exact.arrival + 1e-12);
    for (const s of x.schedules) assert.ok(s.ms_per_window.cpu_mean >= 0);
  }
});

test("bench scheduler: a bad flag names the flag and the value", async () => {
  const r = await run("bench", "scheduler", "--batches", "4,0");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--batches must be a comma-separated list of positive integers, got "0"/);
});
