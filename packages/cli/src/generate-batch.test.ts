// `generate --prompts-file`: several prompts in one run, in process (one batch) and through a mesh
// (concurrent streams that the router batches), each completion the one its prompt gets alone (greedy);
// and the file's and the forms' errors.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startMesh, type Mesh } from "./launcher/index.js";
import { runCli } from "./testing.js";

const PROMPTS = ["The state of the Union is", "We hold these truths", "Fellow citizens of the Senate"];
const dir = mkdtempSync(join(tmpdir(), "cli-prompts-"));
const file = join(dir, "prompts.txt");
writeFileSync(file, `${PROMPTS[0]}\n\n${PROMPTS[1]}\r\n${PROMPTS[2]}\n`); // a blank line and a CRLF, skipped and cut

interface Completion {
  index: number;
  prompt: string;
  text: string;
  tokens: number[];
  completion_tokens: number;
}

/** Each prompt alone, in process: what its completion in a batch must be. */
const alone: number[][] = [];
let mesh: Mesh | undefined;

before(async () => {
  for (const p of PROMPTS) {
    const r = await runCli("generate", "--prompt", p, "--max-tokens", "8", "--json");
    assert.equal(r.code, 0, r.stderr);
    alone.push(JSON.parse(r.stdout).tokens);
  }
});
after(async () => {
  await mesh?.stop();
});

test("in process: one batch of the file's prompts, each completion as its prompt gets alone", async () => {
  const r = await runCli("generate", "--prompts-file", file, "--max-tokens", "8", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { completions: Completion[]; decode_tokens_per_s: number };
  assert.deepEqual(
    out.completions.map((c) => c.prompt),
    PROMPTS,
  );
  out.completions.forEach((c, i) => {
    assert.equal(c.index, i);
    assert.deepEqual(c.tokens, alone[i], `prompt ${i}`);
    assert.equal(c.completion_tokens, c.tokens.length);
  });
  assert.ok(out.decode_tokens_per_s > 0);
  const text = await runCli("generate", "--prompts-file", file, "--max-tokens", "8");
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 3, text.stdout);
  lines.forEach((l, i) => {
    assert.ok(l.startsWith(`[${i + 1}/3] `), l);
  });
});

test("through a mesh: concurrent streams, the same completions", async () => {
  mesh = await startMesh({ shards: 2, deviceBudget: "50%", predictor: false, nats: false });
  const tls = mesh.tls
    ? ["--tls-ca", mesh.tls.caFile, "--tls-cert", mesh.tls.operator.certFile, "--tls-key", mesh.tls.operator.keyFile]
    : [];
  const r = await runCli("generate", "--target", mesh.router.address, ...tls, "--prompts-file", file, "--max-tokens", "8", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { completions: Completion[]; in_flight: number };
  assert.equal(out.completions.length, 3);
  out.completions.forEach((c, i) => {
    assert.equal(c.prompt, PROMPTS[i]);
    assert.deepEqual(c.tokens, alone[i], `prompt ${i}`);
  });
  // One --prompt through the mesh: the same completion as its prompt's in the batch.
  const one = await runCli("generate", "--target", mesh.router.address, ...tls, "--prompt", PROMPTS[0], "--max-tokens", "8", "--json");
  assert.equal(one.code, 0, one.stderr);
  const single = JSON.parse(one.stdout) as Completion;
  assert.deepEqual(single.tokens, alone[0]);
  assert.equal(single.completion_tokens, single.tokens.length);
});

test("bad input: no prompts, a missing file, both forms of the prompt, the other form's flags", async () => {
  const empty = join(dir, "empty.txt");
  writeFileSync(empty, "\n  \n");
  const cases: [string[], RegExp][] = [
    [["--prompts-file", empty], /--prompts-file .*empty\.txt: no prompts \(one prompt a line, blank lines skipped\)/],
    [["--prompts-file", join(dir, "missing.txt")], /--prompts-file .*missing\.txt: not found/],
    [["--prompt", "x", "--prompts-file", file], /give one of --prompt TEXT or --prompts-file FILE/],
    [[], /give one of --prompt TEXT or --prompts-file FILE/],
    [
      ["--target", "127.0.0.1:1", "--prompt", "x", "--model", "m", "--threads", "2"],
      /--model, --threads apply to in-process generate only/,
    ],
  ];
  const many = join(dir, "many.txt");
  writeFileSync(many, "x\n".repeat(257));
  cases.push([["--prompts-file", many], /many\.txt: 257 prompts, at most 256/]);
  for (const [args, want] of cases) {
    const r = await runCli("generate", ...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, want);
  }
});
