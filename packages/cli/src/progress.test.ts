// Progress on stderr: drawn only on a terminal and without --quiet, cleared before other output, and for
// real through a pseudo-terminal (`script`), as a user at a terminal sees `predictor train`.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { promisify } from "node:util";
import { progress, startProgress, type ProgressStream } from "./progress.js";
import { CLI_BIN, runCli } from "./testing.js";

const CLEAR = "\r\x1b[K";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function terminal(columns = 100): ProgressStream & { out: string[] } {
  const out: string[] = [];
  return { isTTY: true, columns, out, write: (t: string) => out.push(t) > 0 };
}

test("on a terminal: the label, elapsed seconds, the stage and its count, redrawn in place and cleared at the end", async () => {
  const s = terminal();
  const shown = startProgress("expertmesh bench cache", { stream: s, intervalMs: 10, intercept: [] });
  progress.stage("budget 25 %");
  progress.count(2, 8, "batches");
  await sleep(40);
  shown.stop();
  const drawn = s.out.filter((t) => t !== CLEAR);
  assert.ok(drawn.length >= 2, `redrawn: ${JSON.stringify(s.out)}`);
  for (const t of drawn) assert.ok(t.startsWith(CLEAR), "each draw replaces the line");
  assert.equal(drawn.at(-1), `${CLEAR}expertmesh bench cache · 0 s · budget 25 % · 2/8 batches`);
  assert.equal(s.out.at(-1), CLEAR, "the line is cleared when the command ends");
  const n = s.out.length;
  progress.stage("after the end");
  await sleep(30);
  assert.equal(s.out.length, n, "nothing is drawn once stopped");
});

test("a long line is cut to the terminal's width; a stage that holds the event loop still draws on its reports", () => {
  const s = terminal(40);
  const shown = startProgress("expertmesh predictor train", { stream: s, intervalMs: 0, intercept: [] });
  progress.stage("training: BCE 0.1234, held-out 0.2345 and more words");
  shown.stop();
  const drawn = s.out.filter((t) => t !== CLEAR);
  assert.ok(drawn.length >= 1, "drawn synchronously, without the timer");
  for (const t of drawn) assert.ok(t.length - CLEAR.length <= 39, `${JSON.stringify(t)} fits 40 columns`);
  assert.ok(drawn.at(-1)!.endsWith("…"));
});

test("not a terminal, or --quiet: nothing is written", async () => {
  for (const [what, s, quiet] of [
    ["a pipe", { ...terminal(), isTTY: false }, false],
    ["quiet", terminal(), true],
  ] as const) {
    const shown = startProgress("expertmesh loadtest", { stream: s, intervalMs: 5, intercept: [], quiet });
    progress.stage("sending");
    progress.count(1, 2);
    await sleep(20);
    shown.stop();
    assert.deepEqual(s.out, [], what);
  }
});

test("output on stdout first clears the line, so results never share a line with it", async () => {
  const s = terminal();
  const written: string[] = [];
  const stdout = { write: (t: string) => written.push(`stdout:${t}`) > 0 } as unknown as NodeJS.WriteStream;
  const original = stdout.write;
  const shown = startProgress("expertmesh bench e2e", { stream: s, intervalMs: 5, intercept: [stdout] });
  await sleep(20);
  const before = s.out.length;
  stdout.write("| table row |\n");
  assert.equal(s.out.at(-1), CLEAR, "cleared before the row");
  assert.equal(s.out.length, before + 1);
  assert.deepEqual(written, ["stdout:| table row |\n"]);
  shown.stop();
  assert.equal(stdout.write, original, "stdout's write is given back");
});

const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const dir = mkdtempSync(join(tmpdir(), "cli-progress-"));
const trace = join(dir, "text.trace");

before(async () => {
  writeFileSync(join(dir, "text.txt"), "The state of the Union is strong, and the people of the United States are at peace.\n");
  const r = await runCli("trace", "record", "--file", join(dir, "text.txt"), "--out", trace, "--max-tokens", "60");
  assert.equal(r.code, 0, r.stderr);
});

const train = (...extra: string[]) => [
  CLI_BIN,
  "predictor",
  "train",
  "--traces",
  trace,
  "--out",
  join(dir, "p.onnx"),
  "--epochs",
  "400",
  "--hidden",
  "16",
  ...extra,
];

test(
  "predictor train at a terminal shows its epochs; with --quiet, or with stderr to a pipe, it shows nothing",
  { skip: hasScript ? false : "no `script` (util-linux) for a pseudo-terminal" },
  async () => {
    const inPty = async (args: string[]) => {
      const line = [process.execPath, ...args].map((a) => `'${a}'`).join(" ");
      const { stdout } = await promisify(execFile)("script", ["-qec", line, "/dev/null"], { maxBuffer: 16 * 2 ** 20 });
      return stdout;
    };
    const shown = await inPty(train());
    assert.match(shown, /expertmesh predictor train · \d+ s · training · \d+\/400 epochs, BCE \d\.\d{4}/);
    assert.match(shown, /mlp predictor \(/, "the result is printed too");
    const quiet = await inPty(train("--quiet"));
    assert.doesNotMatch(quiet, /epochs/);
    assert.ok(!quiet.includes(CLEAR), "no line drawn");
    const piped = await runCli(...train().slice(1));
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(!piped.stderr.includes(CLEAR) && !/epochs/.test(piped.stderr), piped.stderr);
  },
);

test("--quiet is a flag of the long commands only", async () => {
  const bench = await runCli("bench", "e2e", "--quiet", "--shards", "0");
  assert.equal(bench.code, 2);
  assert.doesNotMatch(bench.stderr, /quiet/, "bench takes --quiet: the error is about --shards");
  const generate = await runCli("generate", "--prompt", "x", "--quiet");
  assert.equal(generate.code, 2);
  assert.match(generate.stderr, /Unknown option '--quiet'/);
});
