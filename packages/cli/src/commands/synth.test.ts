// expertmesh synth as users run it: the checkpoint it writes is one that generate and score read.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../testing.js";

const GEOMETRY = ["--hidden", "64", "--intermediate", "96", "--layers", "2", "--experts", "4", "--top-k", "2", "--heads", "4"];

test("synth writes a checkpoint that generate and score load", async () => {
  const root = mkdtempSync(join(tmpdir(), "synth-cli-"));
  const out = join(root, "m");
  const s = await runCli("synth", ...GEOMETRY, "--dtype", "bf16", "--seed", "3", "--out", out, "--json");
  assert.equal(s.code, 0, s.stderr);
  const made = JSON.parse(s.stdout);
  assert.deepEqual([made.hidden, made.heads, made.kv_heads, made.head_dim, made.vocab, made.dtype], [64, 4, 1, 16, 4096, "bf16"]);
  const g = await runCli("generate", "--model", out, "--prompt", "The Congress", "--max-tokens", "4", "--json");
  assert.equal(g.code, 0, g.stderr);
  assert.equal(JSON.parse(g.stdout).completion_tokens, 4);
  const text = join(root, "t.txt");
  writeFileSync(text, "The state of the Union is strong.");
  const sc = await runCli("score", "--model", out, "--file", text, "--json");
  assert.equal(sc.code, 0, sc.stderr);
  assert.ok(Number.isFinite(JSON.parse(sc.stdout).mean_nll));
});

test("synth --help prints its flags; missing or bad flags are usage errors naming the flag", async () => {
  const help = await runCli("synth", "--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--config-like DIR/);
  const out = join(mkdtempSync(join(tmpdir(), "synth-cli-")), "m");
  const cases: [string[], RegExp][] = [
    [["synth", "--hidden", "64", "--out", out], /--intermediate, --layers, --experts, --top-k required without --config-like DIR/],
    [["synth", ...GEOMETRY], /--out DIR is required/],
    [["synth", ...GEOMETRY, "--layers", "0", "--out", out], /--layers must be a positive integer, got "0"/],
    [["synth", ...GEOMETRY, "--vocab", "100", "--out", out], /--vocab: 100 is below the tokenizer's 4096 tokens/],
    [["synth", ...GEOMETRY, "--dtype", "f16", "--out", out], /--dtype must be f32 or bf16, got "f16"/],
    [["synth", "--config-like", "/nonexistent", "--out", out], /--config-like \/nonexistent\/config.json: not found/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
