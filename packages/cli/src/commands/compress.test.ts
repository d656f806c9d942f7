import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runCli } from "../testing.js";

const dir = mkdtempSync(join(tmpdir(), "em-compress-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("compress stats --json: per layer, E frequencies summing to k, mean weights and an E x E similarity with 1 on the diagonal", async () => {
  const r = await runCli("compress", "stats", "--max-tokens", "256", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.layers.length, out.num_layers);
  assert.match(out.source, /training documents/);
  for (const l of out.layers) {
    assert.equal(l.frequency.length, out.num_experts);
    assert.ok(Math.abs(l.frequency.reduce((a: number, b: number) => a + b, 0) - out.top_k) < 1e-9);
    assert.equal(l.mean_weight.length, out.num_experts);
    l.logit_similarity.forEach((row: number[], e: number) => {
      assert.ok(Math.abs(row[e] - 1) < 1e-9);
    });
  }
});

test("compress quantize rejects 3 bits (the kernel runs 2, 4, 8) with a usage error and writes nothing", async () => {
  const r = await runCli("compress", "quantize", "--avg-bits", "3", "--bits", "2,3,4", "--out", join(dir, "q"));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bit width 3 is not supported: onnxruntime-node 1\.30's MatMulNBits CPU kernel runs 2, 4, 8 bits/);
  assert.equal(existsSync(join(dir, "q")), false);
});

test("compress quantize --avg-bits outside the widths' range names the range and the value", async () => {
  const r = await runCli("compress", "quantize", "--avg-bits", "9", "--out", join(dir, "q9"));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--avg-bits must be between 2 and 8 .* got 9/);
});

test("compress merge --experts-per-layer above E is a usage error naming both numbers", async () => {
  const r = await runCli("compress", "merge", "--experts-per-layer", "17", "--out", join(dir, "m"));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--experts-per-layer 17 is more than the model's 16 experts per layer/);
  assert.equal(existsSync(join(dir, "m")), false);
});

test("compress quantize --rounding other than rtn or gptq is a usage error naming the value", async () => {
  const r = await runCli("compress", "quantize", "--uniform", "4", "--rounding", "awq", "--out", join(dir, "r"));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--rounding must be rtn or gptq, got "awq"/);
});
