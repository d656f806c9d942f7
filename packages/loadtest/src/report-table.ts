// The report as text: what a person reads after a run.
import type { LoadTestReport } from "./load-test.js";
import { describeLoad } from "./load-test.js";
import type { Distribution } from "./summary.js";

export function reportTable(r: LoadTestReport): string {
  const s = r.summary;
  const L: string[] = [];
  const n = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");
  L.push(`expertmesh loadtest  ${r.target}  ${r.startedAt}`);
  L.push(`load      ${describeLoad(r.load)}; warm-up ${r.warmupS} s (not counted), measured ${r.durationS} s or ${r.maxRequests} requests`);
  L.push(
    `prompts   ${r.prompts.source} (${r.prompts.distinct} distinct${r.prompts.meanTokens === null ? "" : `, mean ${n(r.prompts.meanTokens)} tokens`}); max tokens ${r.sampling.maxTokens ?? "default"}, temperature ${r.sampling.temperature ?? 1}`,
  );
  L.push("");
  const q = s.requests;
  L.push(
    `requests  scheduled ${q.scheduled}  sent ${q.sent}  completed ${q.completed}  failed ${q.failed}${q.notSent ? `  not sent ${q.notSent}` : ""}  (warm-up ${q.warmup})`,
  );
  L.push(
    `status    ${Object.entries(s.status)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join("  ")}`,
  );
  for (const e of s.errors.slice(0, 8))
    L.push(
      `  ${String(e.count).padStart(6)}  ${e.code}${e.reason && e.reason !== e.code ? ` (${e.reason})` : ""}: ${e.example.slice(0, 100)}`,
    );
  L.push(
    `throughput ${n(s.throughput.requestsPerS, 2)} req/s  ${n(s.throughput.outputTokensPerS, 1)} output tokens/s over ${n(s.throughput.elapsedS, 2)} s (mean ${n(s.throughput.meanPromptTokens)} prompt / ${n(s.throughput.meanOutputTokens)} output tokens)`,
  );
  L.push("");
  L.push(`latency (ms)                 count     mean      p50      p90      p99      max`);
  const row = (name: string, d: Distribution) =>
    L.push(`${name.padEnd(26)}${String(d.count).padStart(8)}${[d.mean, d.p50, d.p90, d.p99, d.max].map((v) => n(v).padStart(9)).join("")}`);
  row("TTFT", s.latencyMs.ttft);
  row("TPOT", s.latencyMs.tpot);
  row("inter-token", s.latencyMs.itl);
  row("end-to-end", s.latencyMs.e2e);
  row("  TTFT from actual send", s.latencyMs.ttftFromSend);
  row("  e2e from actual send", s.latencyMs.e2eFromSend);
  row("  send lag (send - sched.)", s.latencyMs.sendLag);
  L.push(`(TTFT and end-to-end from each request's scheduled start; HDR histograms, ±${n(s.histogramRelativePrecision * 100, 1)} %)`);
  L.push("");
  const g = s.goodput;
  const obj = [
    g.objectives.ttftMs !== undefined && `TTFT <= ${g.objectives.ttftMs} ms`,
    g.objectives.tpotMs !== undefined && `TPOT <= ${g.objectives.tpotMs} ms`,
    g.objectives.e2eMs !== undefined && `e2e <= ${g.objectives.e2eMs} ms`,
  ]
    .filter(Boolean)
    .join(", ");
  L.push(
    `goodput   ${n(g.requestsPerS, 2)} req/s (${g.goodRequests} of ${q.sent} requests, ${n(g.fraction * 100)} %, met ${obj || "no objective"})`,
  );
  for (const c of g.checks)
    L.push(
      `  p${c.percentile} ${c.metric.toUpperCase().padEnd(5)} ${n(c.valueMs).padStart(9)} ms  <= ${c.limitMs} ms  ${c.met ? "met" : "NOT met"}`,
    );
  if (r.cache.length) {
    L.push("");
    L.push(
      `cache (device tier, during the measured run)  hits  stalls  hit ratio  loads  prefetch  wasted  evictions  MiB loaded  used/budget MiB`,
    );
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    for (const c of r.cache) {
      if (!c.delta) {
        L.push(`  shard ${c.shardId} ${c.address}: ${c.error ?? "no device tier"}`);
        continue;
      }
      const d = c.delta;
      L.push(
        `  shard ${c.shardId.padEnd(3)} ${c.address.padEnd(21)}${String(d.hits).padStart(6)}${String(d.misses).padStart(8)}${(n(d.hitRatio * 100) + " %").padStart(11)}` +
          `${String(d.loads).padStart(7)}${String(d.prefetchLoads).padStart(10)}${String(d.wastedPrefetches).padStart(8)}${String(d.evictions).padStart(11)}${mib(d.bytesLoaded).padStart(12)}  ${mib(d.usedBytes)}/${d.budgetBytes ? mib(d.budgetBytes) : "∞"}`,
      );
    }
  }
  if (r.plot) L.push("", `plot      ${r.plot}`);
  return L.join("\n");
}
