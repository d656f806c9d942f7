import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../testing.js";

test("bench compress --json: one row per configuration with the issue's fields, f32 first with ratio 1", { timeout: 600_000 }, async () => {
  const r = await runCli(
    "bench",
    "compress",
    "--heldout-tokens",
    "256",
    "--calibration-tokens",
    "512",
    "--decode-tokens",
    "4",
    "--repeats",
    "1",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const methods = out.rows.map((x: { method: string }) => x.method);
  assert.deepEqual(methods.slice(0, 3), ["f32", "uniform-8bit", "uniform-4bit"]);
  for (const m of ["mixed-4bit", "merge-8of16", "prune-8of16", "replace-8of16", "merge-8of16-global", "merge-12of16", "f32+odp0.2"])
    assert.ok(methods.includes(m), m);
  for (const row of out.rows) {
    for (const k of ["method", "avg_bits", "expert_bytes", "bytes_saved", "heldout_ppl", "ppl_over_fp32", "decode_tokens_per_s"])
      assert.ok(k in row, k);
    if (row.simulated) assert.equal(row.decode_tokens_per_s, null, row.method);
    else assert.ok(row.decode_tokens_per_s > 0, row.method);
  }
  // Mixed vs uniform at equal bytes: pairs at 3 (simulated uniform) and 4 bits, none at 2.5 and 3.5.
  const pairs = out.mixed_vs_uniform as { avg_bits: number; uniform: string | null; mixed_bytes: number; uniform_bytes: number }[];
  assert.deepEqual(
    pairs.map((p) => [p.avg_bits, p.uniform]),
    [
      [2.5, null],
      [3, "uniform-3bit-sim"],
      [3.5, null],
      [4, "uniform-4bit"],
    ],
  );
  for (const p of pairs) if (p.uniform) assert.ok(p.mixed_bytes <= p.uniform_bytes, `${p.avg_bits}: mixed within uniform's bytes`);
  const lr = out.rows.find((x: { method: string }) => x.method.startsWith("merge-8of16+lowrank"));
  const m8 = out.rows.find((x: { method: string }) => x.method === "merge-8of16");
  assert.ok(lr.expert_bytes < m8.expert_bytes && lr.heldout_ppl > 0, "the low-rank row stores fewer bytes than the merge it decomposes");
  const g = out.rows.find((x: { method: string }) => x.method === "merge-8of16-global");
  assert.equal(
    g.stored_experts.reduce((a: number, b: number) => a + b, 0),
    8 * g.stored_experts.length,
  );
  assert.equal(out.rows[0].ppl_over_fp32, 1);
  const u4 = out.rows.find((x: { method: string }) => x.method === "uniform-4bit");
  const m4 = out.rows.find((x: { method: string }) => x.method === "mixed-4bit");
  assert.equal(u4.expert_bytes, m4.expert_bytes, "mixed and uniform 4 bits have equal bytes");
  assert.ok(out.rows.find((x: { method: string }) => x.method === "f32+odp0.2").activated_experts_saved > 0);
});
