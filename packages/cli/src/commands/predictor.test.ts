// `expertmesh predictor prior`, `predictor next`, `predictor train` and `predictor eval` end to end, as users run them: a
// routing trace recorded from the bundled model, the prior and a trained predictor built from it, scored
// on the same trace beside the baselines, against scores computed here independently.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { buildNextStepTable, decodeSchedule, readTrace, writeTrace, type RoutingTrace } from "@expertmesh/moe";
import { runCli } from "../testing.js";

const run = runCli;

const TEXT = `The Senate and House of Representatives have met again at a time of peace at home and abroad.
The revenue of the Government has been ample for its wants, and the public debt has been reduced.

We recommend to the Congress that the laws relating to commerce and navigation be revised, that the
currency be made sound, and that the courts of the United States be given the means to do their work.

The condition of the Army and of the Navy calls for attention. Our relations with foreign nations are
friendly, and treaties of commerce have been concluded with several of them during the year.

The welfare of the people depends on the industry of the farmer, the mechanic and the merchant, and on
laws that are just to all of them alike. To these ends the Executive will give his earnest cooperation.`;

const dir = mkdtempSync(join(tmpdir(), "cli-predictor-"));
const tracePath = join(dir, "text.trace");
const priorPath = join(dir, "prior.onnx");
let trace: RoutingTrace;

before(async () => {
  writeFileSync(join(dir, "text.txt"), TEXT);
  const r = await run("trace", "record", "--file", join(dir, "text.txt"), "--out", tracePath, "--max-tokens", "300");
  assert.equal(r.code, 0, r.stderr);
  trace = readTrace(tracePath);
});

test("predictor prior writes the frequency prior of the traces and reports it", async () => {
  const r = await run("predictor", "prior", "--traces", tracePath, "--out", priorPath, "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.kind, "frequency-prior");
  assert.equal(out.trace_tokens, trace.tokens);
  assert.deepEqual([out.num_layers, out.num_experts, out.top_k], [trace.numLayers, trace.numExperts, trace.topK]);
  for (const row of out.prior as number[][])
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - trace.topK) < 1e-5, "each layer's row sums to k");
});

test("predictor next writes the next-step table of the traces; bench cache reads it as --next-predictor", async () => {
  const out = join(dir, "next.onnx");
  const r = await run("predictor", "next", "--traces", tracePath, "--out", out, "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.kind, "next-step-table");
  assert.equal(j.predicts, "next-step");
  const pairs = trace.sequences.reduce((n, s) => n + Math.max(0, s.length - 1), 0);
  assert.equal(j.pairs, pairs);
  const table = buildNextStepTable([trace]);
  assert.equal(j.vocab, table.vocab);
  const b = await run(
    "bench",
    "cache",
    "--traces",
    tracePath,
    "--next-predictor",
    out,
    "--budgets",
    "25",
    "--batches",
    "1",
    "--no-pre-gate",
    "--horizons",
    "none",
    "--json",
  );
  assert.equal(b.code, 0, b.stderr);
  const rows = (JSON.parse(b.stdout) as { rows: { policy: string }[]; next_step: string }).rows.map((x) => x.policy);
  assert.ok(rows.includes("expertflow[predictor, no next-step]"), rows.join(", "));
  const bad = await run("predictor", "next", "--traces", tracePath, "--out", out, "--pseudo-count", "0");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--pseudo-count must be a number in \(0, 1000000\]/);
});

test("predictor eval scores the prior: recall@k and batch coverage as computed independently", async () => {
  const r = await run("predictor", "eval", "--model", priorPath, "--traces", tracePath, "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const { tokens: T, numLayers: L, numExperts: E, topK: k } = trace;
  assert.equal(out.tokens, T);
  assert.match(out.predictor, /^frequency-prior \(baseline\)/);
  // The prior predicts, for every token, the k most frequent experts of each layer (ties to the lower id).
  const expected: number[] = [];
  for (let l = 0; l < L; l++) {
    const counts = new Array<number>(E).fill(0);
    for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) counts[trace.experts[(t * L + l) * k + j]]++;
    const top = [...counts.keys()].sort((a, b) => counts[b] - counts[a] || a - b).slice(0, k);
    expected.push(top.reduce((n, e) => n + counts[e], 0) / (T * k));
  }
  out.recall_at_k.per_layer.forEach((x: number, l: number) => {
    assert.ok(Math.abs(x - expected[l]) < 1e-9, `layer ${l}: ${x} vs ${expected[l]}`);
  });
  assert.deepEqual(
    out.batch_coverage.map((b: { batch: number }) => b.batch),
    [1, 4, 8, 16],
  );
  assert.deepEqual(
    out.batch_coverage.map((b: { batches: number }) => b.batches),
    [1, 4, 8, 16].map((b) => decodeSchedule(trace, b).steps),
  );
  assert.deepEqual(out.batch_coverage[0].per_layer, out.recall_at_k.per_layer);
  for (const b of out.batch_coverage) for (const x of b.per_layer) assert.ok(x >= 0 && x <= 1);
});

test("predictor eval prints a table by default", async () => {
  const r = await run("predictor", "eval", "--model", priorPath, "--traces", tracePath, "--batch-sizes", "1,2");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /recall@2 /);
  assert.match(r.stdout, /coverage B=2 /);
});

test("bad input gets one line naming the problem and a non-zero exit", async () => {
  const other = { ...trace, numExperts: trace.numExperts * 2, tokens: 1, sequences: [{ start: 0, length: 1 }] };
  const small = (a: Int32Array | Uint16Array | Float32Array, n: number) => a.slice(0, n);
  const otherPath = join(dir, "other.trace");
  writeTrace(otherPath, {
    ...other,
    tokenIds: small(trace.tokenIds, 1) as Int32Array,
    positions: small(trace.positions, 1) as Int32Array,
    experts: small(trace.experts, trace.numLayers * trace.topK) as Uint16Array,
    weights: small(trace.weights, trace.numLayers * trace.topK) as Float32Array,
  });
  const cases: [string[], RegExp][] = [
    [["predictor", "eval", "--model", priorPath, "--traces", otherPath], /predicts 4 x 16, the traces have L=4 E=32/],
    [["predictor", "eval", "--model", join(dir, "none.onnx"), "--traces", tracePath], /--model .*none\.onnx: not found/],
    [
      ["predictor", "prior", "--traces", tracePath, otherPath, "--out", join(dir, "x.onnx")],
      /other\.trace: L=4 E=32 k=2, but .*text\.trace has L=4 E=16 k=2/,
    ],
    [["predictor", "prior", "--out", join(dir, "x.onnx")], /--traces is required/],
    [["predictor", "fit"], /unknown subcommand "fit" \(expected: prior, train, next, eval\)/],
    [["predictor", "train", "--traces", tracePath], /--out is required/],
    [["predictor", "train", "--traces", tracePath, "--out", join(dir, "x.onnx"), "--hidden", "0"], /--hidden must be a positive integer/],
  ];
  for (const [args, message] of cases) {
    const r = await run(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  }
});

test("predictor train writes a trained predictor that eval scores above the baselines on its own trace", async () => {
  const out = join(dir, "mlp.onnx");
  const t = await run("predictor", "train", "--traces", tracePath, "--out", out, "--epochs", "3", "--hidden", "32", "--json");
  assert.equal(t.code, 0, t.stderr);
  const trained = JSON.parse(t.stdout);
  assert.equal(trained.kind, "mlp");
  assert.equal(trained.trace_tokens, trace.tokens);
  assert.ok(trained.final.loss < trained.epoch_log[0].loss, `BCE ${trained.epoch_log[0].loss} -> ${trained.final.loss}`);

  const r = await run("predictor", "eval", "--model", out, "--traces", tracePath, "--prior", priorPath, "--json");
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  assert.match(e.predictor, /^mlp \(trained\)/);
  assert.deepEqual(
    e.baselines.map((b: { name: string }) => b.name),
    ["prior", "previous-token", "pre-gate"],
  );
  // previous-token recall@k, computed here: the share of each token's experts that its predecessor in the
  // sequence used (a sequence's first token: the prior's top-k, the k most frequent experts of the layer).
  const { tokens: T, numLayers: L, numExperts: E, topK: k } = trace;
  const top = Array.from({ length: L }, (_, l) => {
    const counts = new Array<number>(E).fill(0);
    for (let n = 0; n < T; n++) for (let j = 0; j < k; j++) counts[trace.experts[(n * L + l) * k + j]]++;
    return [...counts.keys()].sort((a, b) => counts[b] - counts[a] || a - b).slice(0, k);
  });
  const firsts = new Set(trace.sequences.map((s) => s.start));
  const previous = e.baselines[1].recall_at_k.per_layer as number[];
  for (let l = 0; l < L; l++) {
    let hits = 0;
    for (let n = 0; n < T; n++) {
      const named = firsts.has(n) ? top[l] : Array.from(trace.experts.subarray(((n - 1) * L + l) * k, ((n - 1) * L + l + 1) * k));
      for (let j = 0; j < k; j++) if (named.includes(trace.experts[(n * L + l) * k + j])) hits++;
    }
    assert.ok(Math.abs(previous[l] - hits / (T * k)) < 1e-9, `layer ${l}: ${previous[l]} vs ${hits / (T * k)}`);
  }
  // Trained on this very trace (in-sample), the predictor covers more than each baseline at every batch size.
  for (const b of e.baselines) {
    e.batch_coverage.forEach((c: { mean: number }, i: number) => {
      assert.ok(c.mean > b.batch_coverage[i].mean, `${b.name} B=${c}`);
    });
  }
});

test("bench predictor prints the predictor's coverage as ratios against each baseline", async () => {
  const out = join(dir, "bench-mlp.onnx");
  assert.equal((await run("predictor", "train", "--traces", tracePath, "--out", out, "--epochs", "2", "--hidden", "16")).code, 0);
  const r = await run(
    "bench",
    "predictor",
    "--traces",
    tracePath,
    "--predictor",
    out,
    "--prior",
    priorPath,
    "--batch-sizes",
    "1,4",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const b = JSON.parse(r.stdout);
  assert.equal(b.tokens, trace.tokens);
  assert.deepEqual(
    b.ratios.map((x: { baseline: string }) => x.baseline),
    ["prior", "previous-token", "pre-gate"],
  );
  for (const [i, ratio] of b.ratios.entries()) {
    const base = b.baselines[i];
    assert.ok(Math.abs(ratio.recall_at_k - b.predictor.recall_at_k.mean / base.recall_at_k.mean) < 1e-12);
    assert.ok(Math.abs(ratio.batch_coverage["4"] - b.predictor.batch_coverage[1].mean / base.batch_coverage[1].mean) < 1e-12);
  }
  assert.deepEqual(
    b.latency.map((x: { batch: number }) => x.batch),
    [1, 4],
  );
  for (const x of b.latency)
    assert.ok(x.predictor_ms > 0 && x.decode_step_ms > 0 && Math.abs(x.ratio - x.predictor_ms / x.decode_step_ms) < 1e-12);
  const table = await run(
    "bench",
    "predictor",
    "--traces",
    tracePath,
    "--predictor",
    out,
    "--prior",
    priorPath,
    "--no-pre-gate",
    "--no-latency",
  );
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /ratio predictor\//);
  assert.doesNotMatch(table.stdout, /pre-gate|latency/);
});
