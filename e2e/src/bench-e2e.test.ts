// `expertmesh bench e2e` with tiny parameters (one link setting, two requests of a few tokens): it starts
// the three meshes, reports one row per configuration with consistent counters, says that the link is
// simulated and with what parameters, and refuses bad flags naming the flag.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { test } from "node:test";
import { promisify } from "node:util";

const BIN = createRequire(import.meta.url).resolve("@expertmesh/cli");
const run = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, "bench", "e2e", ...args], { maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

interface Row {
  link: { simulated: boolean; gbps?: number; expert_bytes?: number };
  config: string;
  requests: { completed: number; failed: number };
  tokens_per_s: number;
  tokens_per_s_over_resident: number;
  output_tokens: number;
  over_lru: number;
  over_limit: number;
  device: {
    hits: number;
    stalls: number;
    hit_ratio: number;
    loads: number;
    prefetch_loads: number;
    simulated_bytes_moved: number | null;
    used_bytes: number;
    budget_bytes: number;
  };
}

test("bench e2e --json: resident, lru, expertflow and expertflow-early (hints before each step) rows under a simulated link, counters consistent", async () => {
  const S = 100_000_000; // 100 MB at 50 GB/s: 2 ms per load
  const r = await run(
    "--links",
    "on",
    "--link-gbps",
    "50",
    "--link-expert-bytes",
    String(S),
    "--requests",
    "2",
    "--concurrency",
    "2",
    "--warmup-requests",
    "1",
    "--max-tokens",
    "4",
    "--prompt-tokens",
    "8",
    "--configs",
    "resident,lru,expertflow,expertflow-early",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    simulated_link: { gbps: number; expert_bytes: number; ms_per_load: number };
    in_process: { tokens_per_s: number };
    rows: Row[];
    failed_requests: number;
    link_bound_limit: { belady_loads_per_shard: number[]; link_s: number; tokens_per_s: number; basis: string };
    simulated_on_run: { rows: { policy: string; loads: number; over_lru: number; tokens_per_s: number }[]; capacity_per_shard: number };
  };
  assert.deepEqual(out.simulated_link, { gbps: 50, expert_bytes: S, ms_per_load: 2 });
  assert.equal(out.failed_requests, 0);
  assert.ok(out.in_process.tokens_per_s > 0);
  assert.deepEqual(
    out.rows.map((x) => x.config),
    ["resident", "lru", "expertflow", "expertflow-early"],
  );
  const tokens = out.rows[0]!.output_tokens;
  for (const row of out.rows) {
    assert.deepEqual(row.link, { simulated: true, gbps: 50, expert_bytes: S });
    assert.equal(row.requests.completed, 2);
    assert.equal(
      row.output_tokens,
      tokens,
      `${row.config}: greedy decoding of the same prompts gives the same tokens in every configuration`,
    );
    assert.ok(row.tokens_per_s > 0);
    assert.equal(row.device.simulated_bytes_moved, row.device.loads * S);
    assert.ok(row.device.used_bytes <= row.device.budget_bytes);
    assert.ok(row.device.prefetch_loads <= row.device.loads);
  }
  const [resident, lru] = out.rows;
  // The link-bound limit of the run: Belady's loads on each of the 2 shards, replayed from the same requests.
  assert.equal(out.link_bound_limit.belady_loads_per_shard.length, 2);
  assert.ok(out.link_bound_limit.tokens_per_s > 0 && out.link_bound_limit.link_s >= 0);
  for (const row of out.rows) {
    assert.equal(row.over_lru, row.tokens_per_s / lru!.tokens_per_s);
    assert.equal(row.over_limit, row.tokens_per_s / out.link_bound_limit.tokens_per_s);
  }
  assert.match(out.link_bound_limit.basis, /all-resident/);
  // The simulator on the same requests: LRU, expertflow on the predictor, expertflow on no prediction;
  // none under Belady's loads.
  const sim = out.simulated_on_run;
  assert.deepEqual(
    sim.rows.map((x) => x.policy),
    ["lru", "expertflow[predictor]", "expertflow[predictor, hints at layer 1]", "expertflow[flat]"],
  );
  assert.equal(sim.rows[0]!.over_lru, 1);
  const fewest = out.link_bound_limit.belady_loads_per_shard.reduce((a, b) => a + b, 0);
  for (const x of sim.rows) assert.ok(x.loads >= fewest && x.tokens_per_s > 0, `${x.policy}: ${x.loads} loads < Belady's ${fewest}`);
  assert.equal(resident!.tokens_per_s_over_resident, 1);
  assert.deepEqual([resident!.device.stalls, resident!.device.loads, resident!.device.hit_ratio], [0, 0, 1], "every expert was preloaded");
  assert.equal(lru!.device.prefetch_loads, 0, "lru loads on demand only");
  assert.ok(lru!.device.stalls > 0, "a 25 % budget makes lru stall");
});

test("bench e2e --links off --concurrency 1,2: one row per configuration and concurrency, with over_in_process, latencies and CPU per process", async () => {
  const r = await run(
    "--links",
    "off",
    "--concurrency",
    "1,2",
    "--configs",
    "resident,resident-unary",
    "--requests",
    "2",
    "--warmup-requests",
    "1",
    "--max-tokens",
    "4",
    "--prompt-tokens",
    "8",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    in_process: { concurrency: number; tokens_per_s: number }[];
    rows: {
      config: string;
      concurrency: number;
      tokens_per_s: number;
      over_in_process: number;
      output_tokens: number;
      cpu_ms_per_token: Record<string, number | null>;
    }[];
  };
  assert.deepEqual(
    out.in_process.map((x) => x.concurrency),
    [1, 2],
  );
  assert.deepEqual(
    out.rows.map((x) => [x.config, x.concurrency]),
    [
      ["resident", 1],
      ["resident", 2],
      ["resident-unary", 1],
      ["resident-unary", 2],
    ],
  );
  for (const row of out.rows) {
    const inProcess = out.in_process.find((x) => x.concurrency === row.concurrency)!;
    assert.equal(row.over_in_process, row.tokens_per_s / inProcess.tokens_per_s);
    assert.equal(row.output_tokens, out.rows[0]!.output_tokens, "greedy: the same tokens over either dispatch");
    for (const key of ["ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms"])
      assert.ok((row as unknown as Record<string, number>)[key]! >= 0, key);
    assert.deepEqual(
      Object.keys(row.cpu_ms_per_token),
      ["router", "shards", "nats"],
      "no predictor: nothing consumes predictions with lru shards",
    );
    assert.ok(row.cpu_ms_per_token.router! > 0 && row.cpu_ms_per_token.shards! > 0);
  }
});

test("bench e2e refuses bad flags, naming the flag", async () => {
  for (const [flags, message] of [
    [["--budget", "100%"], /--budget must be a share of each shard's experts in \(0%, 100%\)/],
    [["--links", "maybe"], /--links must be off, on, or off,on, got "maybe"/],
    [["--link-gbps", "0"], /--link-gbps must be a bandwidth in GB\/s in \(0, 100000\], got "0"/],
    [["--concurrency", "1,1"], /--concurrency must not repeat a value, got "1,1"/],
    [["--configs", "fastest"], /--configs must be a list of resident, resident-unary, .*, got "fastest"/],
  ] as const) {
    const r = await run(...flags);
    assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
