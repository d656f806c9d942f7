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

interface CacheRow {
  policy: string;
  loads: number;
  accesses: number;
  budget_percent: number;
  batch: number;
}
interface CacheReport {
  num_layers: number;
  num_experts: number;
  top_k: number;
  rows: CacheRow[];
}

/** `trace record` of `text` on `model` -> `predictor prior` -> `bench cache` on those traces. */
async function benchCacheOnText(model: string, text: string, name: string, budgets: string, batches: string): Promise<CacheReport> {
  const trace = join(work, `${name}.trace`);
  const prior = join(work, `${name}-prior.onnx`);
  let r = await runCli("trace", "record", "--model", model, "--file", text, "--out", trace);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli("predictor", "prior", "--traces", trace, "--out", prior);
  assert.equal(r.code, 0, r.stderr);
  const bench = ["--model", model, "--traces", trace, "--predictor", prior, "--prior", prior];
  r = await runCli("bench", "cache", ...bench, "--budgets", budgets, "--batches", batches, "--json");
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as CacheReport;
}

/** Every policy of one group of rows loads at least as much as Belady's. */
function assertBeladyLeast(group: CacheRow[], what: string): void {
  const belady = group.find((x) => x.policy === "belady");
  assert.ok(belady && belady.accesses > 0 && group.length > 2, what);
  for (const x of group) assert.ok(x.loads >= belady.loads, `${what}: ${x.policy} loads ${x.loads} < Belady's ${belady.loads}`);
}

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
    const out = await benchCacheOnText(model, join(model, ref.score.file), family, "25,50", "1,2");
    const config = JSON.parse(readFileSync(join(model, "config.json"), "utf8")) as Record<string, number>;
    assert.equal(out.num_experts, config.num_experts ?? config.n_routed_experts);
    assert.equal(out.top_k, config.num_experts_per_tok);
    for (const budget of [25, 50]) {
      for (const batch of [1, 2]) {
        assertBeladyLeast(
          out.rows.filter((x) => x.budget_percent === budget && x.batch === batch),
          `budget ${budget} batch ${batch}`,
        );
      }
    }
  });
}

test("synth --family deepseek_v3 with E=256, k=8: trace record, predictor prior and bench cache run on its traces", async () => {
  const model = join(work, "ds256");
  const r = await runCli(
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
  const out = await benchCacheOnText(model, text, "ds256", "12.5", "1,4");
  assert.deepEqual([out.num_layers, out.num_experts, out.top_k], [2, 256, 8]);
  for (const batch of [1, 4])
    assertBeladyLeast(
      out.rows.filter((x) => x.batch === batch),
      `batch ${batch}`,
    );
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
