// Every command answers --help with its usage (exit 0), and a flag that a form of a command does not use
// is a usage error, not silently ignored.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "./testing.js";

const COMMANDS = [
  "generate",
  "score",
  "trace",
  "predictor",
  "bench",
  "up",
  "loadtest",
  "synth",
  "compress",
  "bench cache",
  "predictor train",
  "trace import",
];

test("every command and subcommand prints its usage for --help and exits 0", async () => {
  for (const c of COMMANDS) {
    const r = await runCli(...c.split(" "), "--help");
    assert.equal(r.code, 0, `${c}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`expertmesh ${c}\\b|--out`), c);
  }
});

test("in-process generate refuses the flags of the remote form", async () => {
  const r = await runCli("generate", "--prompt", "x", "--stop", ".", "--timeout", "3");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--stop, --timeout apply to --target \(a running mesh\) only/);
});
