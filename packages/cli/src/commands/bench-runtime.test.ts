// bench runtime as users run it: one JSON object with one row per (batch, threads), the field names.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../testing.js";

test("bench runtime --json has one row per forward path, batch and thread count with decode and prefill tokens/s", async () => {
  const r = await runCli(
    "bench",
    "runtime",
    "--forward",
    "seam,fused",
    "--batches",
    "1,2",
    "--threads-list",
    "1,2",
    "--prompt-tokens",
    "8",
    "--decode-steps",
    "2",
    "--repeats",
    "1",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  type Row = { forward: string; batch: number; threads: number; decode_over_baseline: number };
  assert.deepEqual(
    out.rows.map((x: Row) => [x.forward, x.batch, x.threads]),
    [
      ["seam", 1, 1],
      ["seam", 2, 1],
      ["seam", 1, 2],
      ["seam", 2, 2],
      ["fused", 1, 1],
      ["fused", 2, 1],
      ["fused", 1, 2],
      ["fused", 2, 2],
    ],
  );
  for (const row of out.rows) {
    assert.ok(row.decode_tokens_per_s > 0 && row.prefill_tokens_per_s > 0 && row.decode_tokens_per_cpu_s > 0, JSON.stringify(row));
    if (row.forward === "seam" && row.threads === 1) assert.equal(row.decode_over_baseline, 1);
  }
});

test("bench runtime refuses a prompt and decode longer than the context, naming the limit", async () => {
  const r = await runCli("bench", "runtime", "--prompt-tokens", "500", "--decode-steps", "100");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--prompt-tokens \+ --decode-steps must be at most the context length 512, got 600/);
  const f = await runCli("bench", "runtime", "--forward", "fast");
  assert.equal(f.code, 2);
  assert.match(f.stderr, /--forward must be a comma-separated list of fused, seam, got "fast"/);
  const p = await runCli("bench", "runtime", "--expert-parts", "auto,7");
  assert.equal(p.code, 2);
  assert.match(p.stderr, /--expert-parts must be .* distinct integers that divide the expert hidden size 256, got "auto,7"/);
});

test("bench runtime --expert-parts auto,1 gives a thread count's fused rows once per distinct slices per expert", async () => {
  const r = await runCli(
    "bench",
    "runtime",
    ...["--batches", "1", "--threads-list", "1,2", "--expert-parts", "auto,1"],
    ...["--prompt-tokens", "8", "--decode-steps", "2", "--repeats", "1", "--json"],
  );
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout).rows as { forward: string; threads: number; expert_parts: number }[];
  assert.deepEqual(
    rows.map((x) => [x.forward, x.threads, x.expert_parts]),
    [
      ["fused", 1, 1],
      ["fused", 2, 2],
      ["fused", 2, 1],
    ],
  );
});
