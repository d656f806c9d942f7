// expertmesh loadtest --target HOST:PORT [--api grpc|openai [--model NAME]] [--rate R [--burstiness K] [--max-in-flight N] | --concurrency C]
//   [--duration S] [--requests N] [--warmup S] [--prompts FILE | --prompt-tokens N|A:B] [--max-tokens N]
//   [--slo-ttft MS] [--slo-tpot MS] [--slo-e2e MS] [--slo-percentile P] [--shards HOST:PORT,...]
//   [--json FILE|-] [--plot FILE.svg|FILE.html] [--no-plot] [--tls-ca F [--tls-cert F --tls-key F] [--tls-server-name N]]
// The load-test harness (packages/loadtest): prints a report table; --json writes the report as JSON.
import { writeFileSync } from "node:fs";
import { loadTest, MLPERF_MOE_OBJECTIVES, reportTable, type LoadModel, type Objectives } from "@expertmesh/loadtest";
import { isNonNegativeInt, isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { progress } from "../progress.js";
import { TLS_FLAGS, tlsFromFlags } from "../tls-flags.js";

const isPositive = (v: number) => v > 0;
const isNonNegative = (v: number) => v >= 0;

export async function loadtestCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    target: { type: "string" },
    api: { type: "string" },
    model: { type: "string" },
    rate: { type: "string" },
    burstiness: { type: "string" },
    "max-in-flight": { type: "string" },
    concurrency: { type: "string" },
    duration: { type: "string" },
    requests: { type: "string" },
    warmup: { type: "string" },
    prompts: { type: "string" },
    "prompt-tokens": { type: "string" },
    "prompt-count": { type: "string" },
    "max-tokens": { type: "string" },
    temperature: { type: "string" },
    "top-p": { type: "string" },
    seed: { type: "string" },
    timeout: { type: "string" },
    "slo-ttft": { type: "string" },
    "slo-tpot": { type: "string" },
    "slo-e2e": { type: "string" },
    "slo-percentile": { type: "string" },
    shards: { type: "string" },
    json: { type: "string" },
    plot: { type: "string" },
    "no-plot": { type: "boolean" },
    window: { type: "string" },
    ...TLS_FLAGS,
  });
  if (!v.target) throw new UsageError("--target HOST:PORT is required (the router of a running mesh, e.g. from `expertmesh up`)");
  const api = v.api ?? "grpc";
  if (api !== "grpc" && api !== "openai") throw new UsageError(`--api must be grpc or openai, got ${JSON.stringify(api)}`);
  if (v.model !== undefined && api !== "openai")
    throw new UsageError("--model applies to --api openai only (the gRPC API serves the router's model)");
  if (api === "openai" && (v["tls-ca"] || v["tls-cert"]))
    throw new UsageError("--tls-* apply to --api grpc only (give an https:// --target for the OpenAI API)");
  if (v.rate !== undefined && v.concurrency !== undefined)
    throw new UsageError("give --rate (open loop) or --concurrency (closed loop), not both");
  let load: LoadModel;
  if (v.concurrency !== undefined) {
    if (v.burstiness !== undefined || v["max-in-flight"] !== undefined)
      throw new UsageError("--burstiness and --max-in-flight apply to --rate (open loop) only");
    load = {
      kind: "closed",
      concurrency: numberFlag("concurrency", v.concurrency, 1, (x) => isPositiveInt(x) && x <= 4096, "an integer in [1, 4096]"),
    };
  } else {
    load = {
      kind: "open",
      rate: numberFlag("rate", v.rate, 2, (x) => x > 0 && x <= 100_000, "a number of requests/s in (0, 100000]"),
      burstiness: numberFlag(
        "burstiness",
        v.burstiness,
        1,
        (x) => x >= 0.01 && x <= 100,
        "a number in [0.01, 100] (1 = Poisson, below 1 burstier)",
      ),
      maxInFlight: numberFlag(
        "max-in-flight",
        v["max-in-flight"],
        256,
        (x) => isPositiveInt(x) && x <= 100_000,
        "an integer in [1, 100000]",
      ),
    };
  }
  const durationS = numberFlag("duration", v.duration, 30, (x) => x > 0 && x <= 86_400, "seconds in (0, 86400]");
  const maxRequests = numberFlag(
    "requests",
    v.requests,
    1_000_000,
    (x) => isPositiveInt(x) && x <= 10_000_000,
    "an integer in [1, 10000000]",
  );
  const warmupS = numberFlag("warmup", v.warmup, 2, (x) => x >= 0 && x <= 3600, "seconds in [0, 3600]");
  let prompts: { file: string } | { minTokens: number; maxTokens: number; count: number };
  if (v.prompts !== undefined) {
    if (v["prompt-tokens"] !== undefined) throw new UsageError("give --prompts FILE or --prompt-tokens, not both");
    prompts = { file: v.prompts };
  } else {
    const raw = v["prompt-tokens"] ?? "16:64";
    const m = /^(\d+)(?::(\d+))?$/.exec(raw);
    const min = m ? Number(m[1]) : NaN;
    const max = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || min < 1 || max < min || max > 100_000)
      throw new UsageError(`--prompt-tokens must be N or MIN:MAX with 1 <= MIN <= MAX, got ${JSON.stringify(raw)}`);
    prompts = {
      minTokens: min,
      maxTokens: max,
      count: numberFlag("prompt-count", v["prompt-count"], 32, (x) => isPositiveInt(x) && x <= 10_000, "an integer in [1, 10000]"),
    };
  }
  const sampling = {
    maxTokens: numberFlag("max-tokens", v["max-tokens"], 32, isPositiveInt, "a positive integer"),
    temperature: numberFlag("temperature", v.temperature, 0.7, isNonNegative, "a number >= 0"),
    topP: v["top-p"] === undefined ? undefined : numberFlag("top-p", v["top-p"], 1, (x) => x > 0 && x <= 1, "a number in (0, 1]"),
    seed: numberFlag("seed", v.seed, 1, (x) => isNonNegativeInt(x) && x < 2 ** 32, "an integer in [0, 2^32)"),
  };
  const ms = (name: string, raw: string | undefined) =>
    raw === undefined ? undefined : numberFlag(name, raw, 0, isPositive, "milliseconds > 0");
  const custom = { ttftMs: ms("slo-ttft", v["slo-ttft"]), tpotMs: ms("slo-tpot", v["slo-tpot"]), e2eMs: ms("slo-e2e", v["slo-e2e"]) };
  const percentile = numberFlag("slo-percentile", v["slo-percentile"], 99, (x) => x > 0 && x <= 100, "a percentile in (0, 100]");
  const objectives: Objectives =
    custom.ttftMs === undefined && custom.tpotMs === undefined && custom.e2eMs === undefined
      ? { ...MLPERF_MOE_OBJECTIVES, percentile }
      : { ...custom, percentile };
  const shards = v.shards
    ? v.shards
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
  for (const s of shards) if (!/^[^:\s]+:\d+$/.test(s)) throw new UsageError(`--shards must be HOST:PORT,..., got ${JSON.stringify(s)}`);
  const tls = tlsFromFlags(v);
  const plotPath = v["no-plot"] ? undefined : (v.plot ?? "expertmesh-loadtest.svg");
  if (plotPath && !/\.(svg|html)$/.test(plotPath))
    throw new UsageError(`--plot must name a .svg or .html file, got ${JSON.stringify(plotPath)}`);

  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error("interrupted"));
  process.once("SIGINT", onSigint);
  // Progress: seconds of the schedule (warm-up + measured) and the requests ended so far.
  const t0 = performance.now();
  const scheduleS = Math.ceil(warmupS + durationS);
  let ended = 0;
  let failed = 0;
  const tick = () =>
    progress.count(
      Math.min(scheduleS, Math.round((performance.now() - t0) / 1000)),
      scheduleS,
      `s · ${ended} requests ended, ${failed} failed`,
    );
  progress.stage(`sending to ${v.target}`);
  const ticker = setInterval(tick, 500).unref();
  try {
    const { report } = await loadTest({
      target: v.target,
      api,
      model: v.model,
      client: tls ? { tls } : {},
      load,
      prompts,
      sampling,
      warmupS,
      durationS,
      maxRequests,
      requestTimeoutMs: numberFlag("timeout", v.timeout, 60_000, isPositive, "milliseconds > 0"),
      objectives,
      shards,
      plotPath,
      windowS: v.window === undefined ? undefined : numberFlag("window", v.window, 1, (x) => x >= 0.01, "seconds >= 0.01"),
      seed: sampling.seed,
      signal: abort.signal,
      onRequestEnd: (r) => {
        ended++;
        if (r.code !== "OK") failed++;
        tick();
      },
    });
    clearInterval(ticker);
    const table = reportTable(report);
    if (v.json === "-") {
      console.error(table);
      console.log(JSON.stringify(report));
    } else {
      console.log(table);
      if (v.json) writeFileSync(v.json, JSON.stringify(report, null, 2) + "\n");
    }
  } finally {
    clearInterval(ticker);
    process.removeListener("SIGINT", onSigint);
  }
}
