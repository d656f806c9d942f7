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

test("every command form refuses a flag it does not take, naming it (exit 2, before any work)", async () => {
  const forms = [
    "generate --prompt x",
    "generate --target 127.0.0.1:1 --prompt x",
    "score --file x",
    "trace record --file x --out y",
    "trace import --format jsonl f --out y",
    "predictor prior --traces f --out y",
    "predictor train --traces f --out y",
    "predictor next --traces f --out y",
    "predictor eval --model f --traces f",
    "bench cache",
    "bench predictor",
    "bench scheduler",
    "bench compress",
    "bench e2e",
    "bench runtime",
    "synth --out x",
    "compress stats",
    "compress merge --experts-per-layer 2 --out x",
    "compress odp --target 0.1 --out x",
    "compress quantize --out x --uniform 4",
    "up",
    "loadtest --target 127.0.0.1:1",
  ];
  for (const f of forms) {
    const r = await runCli(...f.split(" "), "--no-such-flag");
    assert.equal(r.code, 2, `${f}: ${r.stderr}`);
    assert.match(r.stderr, /Unknown option '--no-such-flag'/, f);
  }
  // Flags that exist, but for another form of the command.
  const other: [string, RegExp][] = [
    ["generate --target 127.0.0.1:1 --prompt x --provider cpu", /--provider applies to in-process generate only/],
    ["loadtest --target 127.0.0.1:1 --model m", /--model applies to --api openai only/],
    ["generate --prompt x --quiet", /Unknown option '--quiet'/],
  ];
  for (const [f, want] of other) {
    const r = await runCli(...f.split(" "));
    assert.equal(r.code, 2, `${f}: ${r.stderr}`);
    assert.match(r.stderr, want, f);
  }
});
