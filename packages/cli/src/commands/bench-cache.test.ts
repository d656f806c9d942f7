// `expertmesh bench cache` end to end: on a short routing trace of the bundled model, every policy per
// budget and batch with counters that add up and no policy under Belady's loads or the time bound; a
// JSONL trace made here imports and benches with only a config.json; bad flags and disagreeing shapes
// are refused with the flag named.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { BUNDLED_MODEL_DIR } from "@expertmesh/model";
import { accessStream, decodeSchedule, LruPolicy, readTrace, simulateTimed } from "@expertmesh/moe";
import { runCli } from "../testing.js";
import { MIXTRAL_EXPERT_BYTES } from "./bench-e2e.js";

const run = runCli;

const TEXT = `The Senate and House of Representatives have met again at a time of peace at home and abroad.
The revenue of the Government has been ample for its wants, and the public debt has been reduced.

We recommend to the Congress that the laws relating to commerce and navigation be revised, that the
currency be made sound, and that the courts of the United States be given the means to do their work.

The condition of the Army and of the Navy calls for attention. Our relations with foreign nations are
friendly, and treaties of commerce have been concluded with several of them during the year.`;

const dir = mkdtempSync(join(tmpdir(), "cli-bench-cache-"));
const tracePath = join(dir, "text.trace");

before(async () => {
  writeFileSync(join(dir, "text.txt"), TEXT);
  const r = await run("trace", "record", "--file", join(dir, "text.txt"), "--out", tracePath);
  assert.equal(r.code, 0, r.stderr);
});

interface Row {
  batch: number;
  budget_percent: number;
  capacity: number;
  policy: string;
  accesses: number;
  hit_ratio: number;
  stalls: number;
  loads: number;
  demand_loads: number;
  prefetch_loads: number;
  bytes: number;
  ms_per_token: number;
  time_ms: number;
  bound_ms_per_token: number;
  time_over_lru: number;
  bytes_over_belady: number;
  time_over_flat: number | null;
}

test("bench cache --json: every policy per budget and batch, counters consistent, none under Belady's loads or the time bound", async () => {
  const r = await run("bench", "cache", "--traces", tracePath, "--budgets", "12.5,25", "--batches", "1,2", "--no-pre-gate", "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { rows: Row[]; expert_bytes: number; link_gbps: number; layer_ms: number; transfer_ms: number };
  assert.equal(out.expert_bytes, MIXTRAL_EXPERT_BYTES, "the default expert size is bench e2e --links on's");
  assert.equal(out.link_gbps, 25);
  const trace = readTrace(tracePath);
  for (const batch of [1, 2]) {
    for (const budget of [12.5, 25]) {
      const group = out.rows.filter((x) => x.batch === batch && x.budget_percent === budget);
      assert.deepEqual(
        group.map((x) => x.policy),
        [
          "lru",
          "lru+prefetch[predictor]",
          "expertflow-v1[predictor]",
          "expertflow[predictor]",
          "expertflow[predictor, no next-step]",
          "expertflow[predictor, hints at layer 1]",
          "expertflow[prev+prior]",
          "expertflow[flat]",
          "expertflow[oracle]",
          "horizon[0]",
          "horizon[1]",
          "horizon[2]",
          "belady",
        ],
      );
      const belady = group.find((x) => x.policy === "belady")!;
      const flat = group.find((x) => x.policy === "expertflow[flat]")!;
      for (const x of group) {
        assert.equal(x.capacity, (budget / 100) * trace.numLayers * trace.numExperts);
        assert.equal(x.loads, x.demand_loads + x.prefetch_loads);
        assert.equal(x.bytes, x.loads * out.expert_bytes);
        assert.ok(x.loads >= belady.loads, `${x.policy}: ${x.loads} loads < Belady's ${belady.loads}`);
        assert.ok(
          x.ms_per_token >= x.bound_ms_per_token - 1e-9,
          `${x.policy}: ${x.ms_per_token} ms/token under the bound ${x.bound_ms_per_token}`,
        );
        if (x.policy.startsWith("expertflow[")) assert.equal(x.time_over_flat, x.time_ms / flat.time_ms);
      }
      const schedule = decodeSchedule(trace, batch);
      const lru = simulateTimed(accessStream(trace, schedule), () => new LruPolicy(), {
        capacity: group[0].capacity,
        expertBytes: out.expert_bytes,
        linkGbps: out.link_gbps,
        layerMs: out.layer_ms,
      });
      assert.equal(group[0].time_ms, lru.timeMs);
      assert.equal(group[0].stalls, lru.stalls);
    }
  }
});

test("a JSONL trace imports with a config.json and benches with no weights", async () => {
  // The recorded trace, written as JSON lines the way another system would (no token ids).
  const trace = readTrace(tracePath);
  const { numLayers: L, topK: k } = trace;
  const lines: string[] = [];
  trace.sequences.forEach((s, q) => {
    for (let n = s.start; n < s.start + s.length; n++) {
      const experts = Array.from({ length: L }, (_, l) => Array.from(trace.experts.subarray((n * L + l) * k, (n * L + l + 1) * k)));
      lines.push(JSON.stringify({ sequence: `req-${q}`, experts }));
    }
  });
  writeFileSync(join(dir, "routes.jsonl"), lines.join("\n") + "\n");
  const configDir = join(dir, "config-only");
  mkdirSync(configDir, { recursive: true });
  copyFileSync(join(BUNDLED_MODEL_DIR, "config.json"), join(configDir, "config.json"));
  const config = join(configDir, "config.json");
  const imported = join(dir, "routes.trace");
  const r = await run("trace", "import", "--format", "jsonl", join(dir, "routes.jsonl"), "--out", imported, "--config", config, "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).tokens, trace.tokens);
  const back = readTrace(imported);
  assert.deepEqual(back.experts, trace.experts);
  assert.deepEqual(back.sequences, trace.sequences);

  const b = await run(
    "bench",
    "cache",
    "--traces",
    imported,
    "--config",
    config,
    "--budgets",
    "25",
    "--batches",
    "1",
    "--expert-bytes",
    "config",
    "--json",
  );
  assert.equal(b.code, 0, b.stderr);
  const out = JSON.parse(b.stdout) as { rows: Row[]; expert_bytes: number };
  const raw = JSON.parse(readFileSync(config, "utf8")) as { hidden_size: number; intermediate_size: number };
  assert.equal(out.expert_bytes, 3 * raw.hidden_size * raw.intermediate_size * 4, "float32 config: 4 bytes a value");
  assert.deepEqual(
    out.rows.map((x) => x.policy),
    ["lru", "expertflow[flat]", "expertflow[oracle]", "horizon[0]", "horizon[1]", "horizon[2]", "belady"],
  );

  // A config that disagrees with the trace is refused, naming --config.
  writeFileSync(
    config,
    JSON.stringify({ ...JSON.parse(readFileSync(join(BUNDLED_MODEL_DIR, "config.json"), "utf8")), num_local_experts: 32 }),
  );
  const bad = await run("bench", "cache", "--traces", imported, "--config", config, "--budgets", "25", "--batches", "1");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--traces .* has L=4 E=16 k=2, but --config .* says L=4 E=32 k=2/);
});

test("trace import refuses a malformed line, naming the file and line", async () => {
  writeFileSync(join(dir, "bad.jsonl"), `{"experts": [[1, 2], [3, 4]]}\n{"experts": [[1, 2], [3, 16]]}\n`);
  const r = await run(
    "trace",
    "import",
    "--format",
    "jsonl",
    join(dir, "bad.jsonl"),
    "--out",
    join(dir, "bad.trace"),
    "--num-experts",
    "16",
  );
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.jsonl:2: expert id 16 at layer 1 is not an integer in \[0, 16\) \(num_experts 16\)/);
});

test("bench cache refuses bad flags, naming them", async () => {
  const budgets = await run("bench", "cache", "--traces", tracePath, "--budgets", "0");
  assert.equal(budgets.code, 2);
  assert.match(budgets.stderr, /--budgets must be a comma-separated list of percentages in \(0, 100\], got "0"/);
  const horizons = await run("bench", "cache", "--traces", tracePath, "--horizons", "1,-2");
  assert.equal(horizons.code, 2);
  assert.match(horizons.stderr, /--horizons must be a comma-separated list of decode steps in \[0, 1000000\], or "none", got "-2"/);
  const notNext = join(BUNDLED_MODEL_DIR, "predictor-prior.onnx");
  const next = await run("bench", "cache", "--traces", tracePath, "--next-predictor", notNext, "--budgets", "25", "--batches", "1");
  assert.equal(next.code, 2);
  assert.match(
    next.stderr,
    /--next-predictor .*predictor-prior\.onnx does not predict the next step \(metadata predicts=next-step; made by `predictor next`\)/,
  );
  const link = await run("bench", "cache", "--traces", tracePath, "--link-gbps=0");
  assert.match(link.stderr, /--link-gbps must be a bandwidth in GB\/s in \(0, 100000\]/);
  const config = await run("bench", "cache", "--config", join(dir, "nope.json"));
  assert.match(config.stderr, /--config needs --traces FILE/);
  const unknown = await run("bench", "nope");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown benchmark "nope" \(expected: cache/);
});
