// From the records of a run to the numbers of the report: counts, status and error distribution,
// throughput, latency distributions (HDR histograms, from the scheduled start; from the actual send
// alongside), goodput against latency objectives, and per-window percentiles for the plot.
import { Histogram, HISTOGRAM_RELATIVE_PRECISION } from "./histogram.js";
import { e2eMs, tpotMs, ttftMs } from "./request-record.js";
import type { RunResult } from "./run.js";

export interface Distribution {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Per-request latency objectives in ms (a request is "good" when it meets all that are set). */
export interface Objectives {
  ttftMs?: number;
  tpotMs?: number;
  e2eMs?: number;
  /** Percentile at which the run as a whole is checked against them (MLPerf: 99). */
  percentile: number;
}

/** MLPerf Inference's server scenario for Mixtral-8x7B (the MoE benchmark): p99 TTFT <= 2 s, p99 TPOT <= 200 ms. */
export const MLPERF_MOE_OBJECTIVES: Objectives = Object.freeze({ ttftMs: 2000, tpotMs: 200, percentile: 99 });

export interface WindowStats {
  /** Window start, seconds since the run's start (by scheduled start). */
  tS: number;
  requests: number;
  errors: number;
  e2e: Distribution;
  ttft: Distribution;
}

export interface Summary {
  requests: { scheduled: number; sent: number; completed: number; failed: number; notSent: number; warmup: number };
  status: Record<string, number>;
  errors: { code: string; reason: string; count: number; example: string }[];
  throughput: { elapsedS: number; requestsPerS: number; outputTokensPerS: number; meanOutputTokens: number; meanPromptTokens: number };
  latencyMs: {
    ttft: Distribution;
    tpot: Distribution;
    itl: Distribution;
    e2e: Distribution;
    ttftFromSend: Distribution;
    e2eFromSend: Distribution;
    sendLag: Distribution;
  };
  goodput: {
    objectives: Objectives;
    goodRequests: number;
    requestsPerS: number;
    fraction: number;
    checks: { metric: string; percentile: number; valueMs: number; limitMs: number; met: boolean }[];
  };
  windows: WindowStats[];
  windowS: number;
  histogramRelativePrecision: number;
}

const US = 1000;

function dist(h: Histogram): Distribution {
  const ms = (v: number) => v / US;
  return {
    count: h.count,
    mean: ms(h.mean),
    p50: ms(h.percentile(50)),
    p90: ms(h.percentile(90)),
    p99: ms(h.percentile(99)),
    max: ms(h.max),
  };
}

function histogramOf(values: Iterable<number | undefined>): Histogram {
  const h = new Histogram();
  for (const v of values) if (v !== undefined) h.record(Math.max(0, v) * US);
  return h;
}

export function summarize(run: RunResult, objectives: Objectives, windowS?: number): Summary {
  const measured = run.records.filter((r) => !r.warmup);
  const sent = measured.filter((r) => r.sentMs !== undefined);
  const ok = measured.filter((r) => r.code === "OK");
  const status: Record<string, number> = {};
  const errors = new Map<string, Summary["errors"][number]>();
  for (const r of measured) {
    const code = r.code ?? "UNKNOWN";
    status[code] = (status[code] ?? 0) + 1;
    if (code !== "OK") {
      const key = `${code}/${r.reason ?? ""}`;
      const e = errors.get(key) ?? { code, reason: r.reason ?? "", count: 0, example: r.message ?? "" };
      e.count++;
      errors.set(key, e);
    }
  }
  const lastEnd = measured.reduce((m, r) => Math.max(m, r.endMs ?? 0), run.endMs);
  const elapsedS = (lastEnd - run.warmupMs) / 1000;
  const outputTokens = ok.reduce((a, r) => a + r.outputTokens, 0);
  const withPrompt = ok.filter((r) => r.promptTokens !== undefined);

  const itl = new Histogram();
  for (const r of ok) for (const g of r.gapsMs) itl.record(g * US);
  const ttft = histogramOf(ok.map(ttftMs));
  const tpot = histogramOf(ok.map(tpotMs));
  const e2e = histogramOf(ok.map(e2eMs));

  const good = ok.filter(
    (r) =>
      (objectives.ttftMs === undefined || ttftMs(r)! <= objectives.ttftMs) &&
      (objectives.tpotMs === undefined || (tpotMs(r) ?? 0) <= objectives.tpotMs) &&
      (objectives.e2eMs === undefined || e2eMs(r)! <= objectives.e2eMs),
  );
  const checks: Summary["goodput"]["checks"] = [];
  const check = (metric: string, h: Histogram, limitMs: number | undefined) => {
    if (limitMs === undefined) return;
    const valueMs = h.count ? h.percentile(objectives.percentile) / US : NaN;
    // Failed requests count against the objective: with failures, no percentile of the successes passes
    // unless the failures fit in the percentile's tail.
    const failShare = sent.length ? (sent.length - ok.length) / sent.length : 0;
    checks.push({
      metric,
      percentile: objectives.percentile,
      valueMs,
      limitMs,
      met: valueMs <= limitMs && failShare * 100 <= 100 - objectives.percentile,
    });
  };
  check("ttft", ttft, objectives.ttftMs);
  check("tpot", tpot, objectives.tpotMs);
  check("e2e", e2e, objectives.e2eMs);

  const w = windowS ?? niceWindow(run.endMs / 1000);
  const windows: WindowStats[] = [];
  for (let start = 0; start < run.endMs / 1000 - 1e-9; start += w) {
    const inWindow = run.records.filter((r) => r.scheduledMs >= start * 1000 && r.scheduledMs < (start + w) * 1000);
    const done = inWindow.filter((r) => r.code === "OK");
    windows.push({
      tS: start,
      requests: inWindow.length,
      errors: inWindow.filter((r) => r.code !== "OK").length,
      e2e: dist(histogramOf(done.map(e2eMs))),
      ttft: dist(histogramOf(done.map(ttftMs))),
    });
  }

  return {
    requests: {
      scheduled: measured.length,
      sent: sent.length,
      completed: ok.length,
      failed: sent.length - ok.length,
      notSent: measured.length - sent.length,
      warmup: run.records.length - measured.length,
    },
    status,
    errors: [...errors.values()].sort((a, b) => b.count - a.count),
    throughput: {
      elapsedS,
      requestsPerS: ok.length / elapsedS,
      outputTokensPerS: outputTokens / elapsedS,
      meanOutputTokens: ok.length ? outputTokens / ok.length : NaN,
      meanPromptTokens: withPrompt.length ? withPrompt.reduce((a, r) => a + r.promptTokens!, 0) / withPrompt.length : NaN,
    },
    latencyMs: {
      ttft: dist(ttft),
      tpot: dist(tpot),
      itl: dist(itl),
      e2e: dist(e2e),
      ttftFromSend: dist(histogramOf(ok.map((r) => r.firstTokenMs! - r.sentMs!))),
      e2eFromSend: dist(histogramOf(ok.map((r) => r.endMs! - r.sentMs!))),
      sendLag: dist(histogramOf(sent.map((r) => r.sentMs! - r.scheduledMs))),
    },
    goodput: {
      objectives,
      goodRequests: good.length,
      requestsPerS: good.length / elapsedS,
      fraction: ok.length ? good.length / sent.length : 0,
      checks,
    },
    windows,
    windowS: w,
    histogramRelativePrecision: HISTOGRAM_RELATIVE_PRECISION,
  };
}

/** About 40 windows over the run, rounded to 0.1 / 0.25 / 0.5 / 1 / 2 / 5 / 10 ... s. */
function niceWindow(spanS: number): number {
  const raw = Math.max(spanS / 40, 0.05);
  const steps = [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300];
  return steps.find((s) => s >= raw) ?? 600;
}
