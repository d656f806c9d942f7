// The CLI on every family's golden fixture: `score` reproduces the fixture's perplexity, and
// `trace record` -> `predictor prior` -> `bench cache` runs on the family's own routing traces.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FAMILY_FIXTURES, FAMILY_FIXTURES_DIR } from "@expertmesh/model/testing";
import { runCli } from "../testing.js";

const work = mkdtempSync(join(tmpdir(), "cli-families-"));

for (const family of FAMILY_FIXTURES) {
  const model = join(FAMILY_FIXTURES_DIR, family);
  const ref = JSON.parse(readFileSync(join(model, "golden/reference.json"), "utf8")) as {
    score: { file: string; tokens: number; mean_nll: number; perplexity: number };
  };

  test(`${family}: score --json gives the fixture's perplexity (mean NLL within 1e-4 nats)`, async () => {
    const r = await runCli("score", "--model", model, "--file", join(model, ref.score.file), "--json");
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { tokens: number; mean_nll: number; perplexity: number };
    assert.equal(out.tokens, ref.score.tokens);
    assert.ok(Math.abs(out.mean_nll - ref.score.mean_nll) < 1e-4, `${out.mean_nll} vs ${ref.score.mean_nll}`);
    assert.ok(Math.abs(out.perplexity / ref.score.perplexity - 1) < 1e-4, `${out.perplexity} vs ${ref.score.perplexity}`);
  });

  test(`${family}: bench cache runs on the family's traces, Belady loading least`, async () => {
    const trace = join(work, `${family}.trace`);
    const prior = join(work, `${family}-prior.onnx`);
    let r = await runCli("trace", "record", "--model", model, "--file", join(model, ref.score.file), "--out", trace);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli("predictor", "prior", "--traces", trace, "--out", prior);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(
      "bench",
      "cache",
      "--model",
      model,
      "--traces",
      trace,
      "--predictor",
      prior,
      "--prior",
      prior,
      "--budgets",
      "25,50",
      "--batches",
      "1,2",
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      num_experts: number;
      top_k: number;
      rows: { policy: string; loads: number; budget_percent: number; batch: number }[];
    };
    const config = JSON.parse(readFileSync(join(model, "config.json"), "utf8")) as Record<string, number>;
    assert.equal(out.num_experts, config.num_experts ?? config.n_routed_experts);
    assert.equal(out.top_k, config.num_experts_per_tok);
    for (const budget of [25, 50]) {
      for (const batch of [1, 2]) {
        const group = out.rows.filter((x) => x.budget_percent === budget && x.batch === batch);
        const belady = group.find((x) => x.policy === "belady");
        assert.ok(belady && group.length > 2, `budget ${budget} batch ${batch}`);
        for (const x of group) assert.ok(x.loads >= belady.loads, `${x.policy} loads ${x.loads} < Belady's ${belady.loads}`);
      }
    }
  });
}

test("synth --family deepseek_v3 with E=256, k=8: trace record, predictor prior and bench cache run on its traces", async () => {
  const model = join(work, "ds256");
  let r = await runCli(
    "synth",
    "--family",
    "deepseek_v3",
    "--hidden",
    "64",
    "--intermediate",
    "16",
    "--layers",
    "2",
    "--experts",
    "256",
    "--top-k",
    "8",
    "--heads",
    "4",
    "--out",
    model,
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const made = JSON.parse(r.stdout) as { family: string; experts: number; top_k: number; layers: number };
  assert.deepEqual([made.family, made.experts, made.top_k, made.layers], ["deepseek_v3", 256, 8, 2]);
  const text = join(work, "ds256.txt");
  writeFileSync(text, "The state of the Union is strong.\n\nThe Congress is in session, and the people are at work.");
  const trace = join(work, "ds256.trace");
  const prior = join(work, "ds256-prior.onnx");
  r = await runCli("trace", "record", "--model", model, "--file", text, "--out", trace);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli("predictor", "prior", "--traces", trace, "--out", prior);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(
    "bench",
    "cache",
    "--model",
    model,
    "--traces",
    trace,
    "--predictor",
    prior,
    "--prior",
    prior,
    "--budgets",
    "12.5",
    "--batches",
    "1,4",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    num_layers: number;
    num_experts: number;
    top_k: number;
    rows: { policy: string; loads: number; accesses: number; batch: number }[];
  };
  assert.deepEqual([out.num_layers, out.num_experts, out.top_k], [2, 256, 8]);
  for (const batch of [1, 4]) {
    const group = out.rows.filter((x) => x.batch === batch);
    const belady = group.find((x) => x.policy === "belady");
    assert.ok(belady && belady.accesses > 0, `batch ${batch}`);
    for (const x of group) assert.ok(x.loads >= belady.loads, `batch ${batch}: ${x.policy} loads ${x.loads} < Belady's ${belady.loads}`);
  }
});

test("bench runtime on a DeepSeek-V3 checkpoint measures the seam path by default (its gate cannot be fused)", async () => {
  const model = join(FAMILY_FIXTURES_DIR, "deepseek_v3");
  const r = await runCli(
    "bench",
    "runtime",
    "--model",
    model,
    "--batches",
    "1",
    "--threads-list",
    "1",
    "--prompt-tokens",
    "8",
    "--decode-steps",
    "2",
    "--repeats",
    "1",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { rows: { forward: string; decode_tokens_per_s: number }[] };
  assert.deepEqual(
    out.rows.map((x) => x.forward),
    ["seam"],
  );
  assert.ok(out.rows[0].decode_tokens_per_s > 0);
});
