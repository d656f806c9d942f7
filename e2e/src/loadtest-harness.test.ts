// The load-test harness against a real mesh: a full report (counts, statuses, latency distributions,
// goodput, the shards' cache statistics, the plot), the closed loop's request count, and the
// coordinated-omission self-check: a shard stalled (SIGSTOP/SIGCONT) a few times during an open-loop
// run shows up in full in the p99 measured from scheduled starts. The test asserts only what no machine
// can change (a request held up by a stall takes at least the stall); how much the p99 and the mean of
// service times from the actual send move, relative to a baseline run, is printed as a diagnostic, not
// asserted: a ratio of timings flaked on a loaded machine (1.687 <= 1.869), and timing claims belong in
// benchmarks (`expertmesh loadtest --json`).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh, type Mesh } from "@expertmesh/cli/launcher";
import {
  generatedPrompts,
  loadTest,
  MLPERF_MOE_OBJECTIVES,
  reportTable,
  runLoad,
  seededRandom,
  summarize,
  type Prompt,
} from "@expertmesh/loadtest";

let mesh: Mesh;
let dir: string;

before(async () => {
  mesh = await startMesh({ shards: 2, deviceBudget: "100%", predictor: false });
  dir = mkdtempSync(join(tmpdir(), "expertmesh-loadtest-"));
});
after(async () => {
  for (const s of mesh.shards) s.process.signal("SIGCONT");
  await mesh.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("an open-loop run gives a full report: counts, statuses, latencies, goodput, cache statistics and a plot", async () => {
  const plotPath = join(dir, "latency.html");
  const { report } = await loadTest({
    target: mesh.router.address,
    client: mesh.clientOptions,
    load: { kind: "open", rate: 6, burstiness: 1, maxInFlight: 64 },
    prompts: { minTokens: 8, maxTokens: 24, count: 4 },
    sampling: { maxTokens: 6, temperature: 0.7, seed: 1 },
    warmupS: 0.5,
    durationS: 2,
    maxRequests: 1000,
    requestTimeoutMs: 20_000,
    objectives: MLPERF_MOE_OBJECTIVES,
    shards: mesh.shards.map((s) => s.address),
    plotPath,
    seed: 1,
  });
  const s = report.summary;
  assert.ok(s.requests.scheduled >= 3, `scheduled ${s.requests.scheduled}`);
  assert.equal(s.requests.completed, s.requests.scheduled);
  assert.deepEqual(s.status, { OK: s.requests.scheduled });
  assert.ok(s.requests.warmup >= 0);
  assert.ok(s.throughput.requestsPerS > 0 && s.throughput.outputTokensPerS > 0);
  assert.equal(s.throughput.meanOutputTokens, 6);
  for (const d of [s.latencyMs.ttft, s.latencyMs.tpot, s.latencyMs.itl, s.latencyMs.e2e]) {
    assert.ok(d.count > 0 && d.p50 <= d.p90 && d.p90 <= d.p99 && d.p99 <= d.max, JSON.stringify(d));
  }
  assert.ok(s.latencyMs.e2e.p50 >= s.latencyMs.ttft.p50);
  assert.equal(s.latencyMs.itl.count, s.requests.completed * 5);
  assert.equal(s.goodput.checks.length, 2);
  assert.equal(report.cache.length, 2);
  for (const c of report.cache) assert.ok(c.delta && c.delta.hits + c.delta.misses > 0, JSON.stringify(c));
  // Both panels and the table (percentile lines only where windows hold enough requests: plot.test.ts).
  assert.match(readFileSync(plotPath, "utf8"), /<svg[\s\S]*end-to-end latency[\s\S]*time to first token[\s\S]*<\/svg>[\s\S]*<table>/);
  assert.deepEqual(JSON.parse(JSON.stringify(report)).summary.requests, s.requests);
  const table = reportTable(report);
  for (const word of ["TTFT", "TPOT", "inter-token", "end-to-end", "goodput", "p99", "shard 0", "throughput"])
    assert.ok(table.includes(word), word);
});

test("a closed loop sends exactly the requested count, at most `concurrency` at a time", async () => {
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, retry: false });
  try {
    const run = await runLoad(client, {
      load: { kind: "closed", concurrency: 2 },
      prompts: [{ text: "We the people" }],
      sampling: { maxTokens: 4 },
      warmupS: 0,
      durationS: 30,
      maxRequests: 5,
      requestTimeoutMs: 20_000,
      seed: 1,
    });
    assert.equal(run.records.length, 5);
    assert.ok(run.records.every((r) => r.code === "OK" && r.outputTokens === 4));
    const intervals = run.records.map((r) => [r.sentMs!, r.endMs!]);
    for (const [t] of intervals) assert.ok(intervals.filter(([a, b]) => a <= t && t < b).length <= 2);
  } finally {
    client.close();
  }
});

test("self-check: stalls injected into one shard show in full in the p99 measured from scheduled starts", async (t) => {
  const STALL_MS = 600;
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, retry: false });
  try {
    const prompts: Prompt[] = await generatedPrompts(client, 4, 8, 16, seededRandom(3));
    // Short requests arriving evenly (burstiness 10) at well under the capacity of a client that holds
    // at most 4 in flight: during a stall the later arrivals wait in the client, which a latency
    // measured from the actual send does not see; about 50 requests, of which the stalls hold up a few.
    const options = {
      load: { kind: "open" as const, rate: 8, burstiness: 10, maxInFlight: 4 },
      prompts,
      sampling: { maxTokens: 2, temperature: 0 },
      warmupS: 0.5,
      durationS: 6,
      maxRequests: 1000,
      requestTimeoutMs: 20_000,
      seed: 7,
    };
    // The first requests after a mesh starts are slow (workers, caches): warm it before the baseline.
    await runLoad(client, { ...options, warmupS: 0, durationS: 2 });
    const baseline = summarize(await runLoad(client, options), MLPERF_MOE_OBJECTIVES);
    const victim = mesh.shards[0].process;
    const timers: NodeJS.Timeout[] = [];
    const stalled = summarize(
      await runLoad(client, {
        ...options,
        onWarmupEnd: () => {
          for (const at of [1_500, 4_000]) {
            timers.push(setTimeout(() => victim.signal("SIGSTOP"), at));
            timers.push(setTimeout(() => victim.signal("SIGCONT"), at + STALL_MS));
          }
        },
      }),
      MLPERF_MOE_OBJECTIVES,
    );
    timers.forEach(clearTimeout);
    victim.signal("SIGCONT");
    const b = baseline.latencyMs;
    const s = stalled.latencyMs;
    const p99Ratio = s.e2e.p99 / b.e2e.p99;
    const meanSendRatio = s.e2eFromSend.mean / b.e2eFromSend.mean;
    t.diagnostic(
      `baseline: e2e p99 ${b.e2e.p99.toFixed(0)} ms, mean from send ${b.e2eFromSend.mean.toFixed(0)} ms, mean from sched ${b.e2e.mean.toFixed(0)} ms, n ${b.e2e.count}`,
    );
    t.diagnostic(
      `stalled:  e2e p99 ${s.e2e.p99.toFixed(0)} ms, mean from send ${s.e2eFromSend.mean.toFixed(0)} ms, mean from sched ${s.e2e.mean.toFixed(0)} ms, n ${s.e2e.count}`,
    );
    t.diagnostic(`ratios: p99 from scheduled start ${p99Ratio.toFixed(2)}, mean from send ${meanSendRatio.toFixed(2)}`);
    assert.equal(stalled.requests.failed, 0);
    // The stall shows in full in the reported p99: a request held up by a stall waits for all of it,
    // and the latency from its scheduled start counts that wait (a lower bound no machine can beat).
    assert.ok(s.e2e.p99 >= 0.9 * STALL_MS, `stalled p99 ${s.e2e.p99} ms < stall ${STALL_MS} ms`);
  } finally {
    client.close();
  }
});
