// bench runtime as users run it: one JSON object with one row per (batch, threads), the field names.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../testing.js";

test("bench runtime --json has one row per batch and thread count with decode and prefill tokens/s", async () => {
  const r = await runCli("bench", "runtime", "--batches", "1,2", "--threads-list", "1,2", "--prompt-tokens", "8", "--decode-steps", "2", "--repeats", "1", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.rows.map((x: { batch: number; threads: number }) => [x.batch, x.threads]), [[1, 1], [2, 1], [1, 2], [2, 2]]);
  for (const row of out.rows) {
    assert.ok(row.decode_tokens_per_s > 0 && row.prefill_tokens_per_s > 0, JSON.stringify(row));
    if (row.threads === 1) assert.equal(row.decode_over_baseline, 1);
  }
});

test("bench runtime refuses a prompt and decode longer than the context, naming the limit", async () => {
  const r = await runCli("bench", "runtime", "--prompt-tokens", "500", "--decode-steps", "100");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--prompt-tokens \+ --decode-steps must be at most the context length 512, got 600/);
});
