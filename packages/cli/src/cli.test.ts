// The `expertmesh` binary as users run it: a child process, its stdout, stderr and exit code.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "./testing.js";

const run = runCli;
const noStack = (stderr: string) => assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");

test("generate --json prints one JSON object with the text, usage and throughput", async () => {
  const r = await run("generate", "--prompt", "The Congress", "--max-tokens", "8", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.completion_tokens, 8);
  assert.equal(out.tokens.length, 8);
  assert.equal(out.finish_reason, "length");
  assert.equal(typeof out.text, "string");
  assert.ok(out.decode_tokens_per_s > 0 && out.prefill_tokens_per_s > 0);
});

test("generate streams text; the same seed gives the same text", async () => {
  const a = await run("generate", "--prompt", "We", "--max-tokens", "6", "--temperature", "0.8", "--seed", "4");
  const b = await run("generate", "--prompt", "We", "--max-tokens", "6", "--temperature", "0.8", "--seed", "4");
  assert.equal(a.code, 0, a.stderr);
  assert.ok(a.stdout.trim().length > 0);
  assert.equal(a.stdout, b.stdout);
});

test("score --json reports tokens, mean NLL and perplexity", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "score-")), "t.txt");
  writeFileSync(file, "The Government of the United States has been called upon to consider the state of the Union.");
  const r = await run("score", "--file", file, "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.tokens > 5);
  assert.ok(Math.abs(Math.exp(out.mean_nll) - out.perplexity) < 1e-6 * out.perplexity);
});

test("bad input gets one line naming the problem, no stack trace, and a non-zero exit", async () => {
  const cases: [string[], number, RegExp][] = [
    [["generate", "--prompt", "x", "--max-tokens=-3"], 2, /--max-tokens must be an integer >= 1, got "-3"/],
    [["generate"], 2, /give one of --prompt TEXT or --prompts-file FILE/],
    [["generate", "--prompt", "x", "--model", "/nonexistent/model"], 1, /\/nonexistent\/model: model directory not found/],
    [["generate", "--prompt", "x", "--max-tokens", "600"], 1, /prompt tokens \+ max_tokens is 602, above the limit of 512/],
    [["score", "--file", "/nonexistent.txt"], 2, /--file \/nonexistent\.txt: not found/],
    [["frobnicate"], 2, /unknown command "frobnicate"/],
    [["generate", "--prompt", "x", "--bogus"], 2, /Unknown option '--bogus'/],
  ];
  for (const [args, code, message] of cases) {
    const r = await run(...args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    noStack(r.stderr);
  }
});
