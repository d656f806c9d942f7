// expertmesh bench e2e [--model DIR] [--text FILE] [--shards N] [--budget PCT] [--links off,on]
//   [--link-gbps G] [--link-expert-bytes S] [--concurrency C,...] [--requests N] [--warmup-requests W]
//   [--prompt-tokens P] [--max-tokens M] [--seed X] [--timeout MS] [--configs resident,...] [--rounds R] [--verbose] [--json]
//
// The mesh under load, end to end: for each link setting, three meshes on loopback (same shards, same
// prompts, greedy decoding so that every configuration generates the same tokens): all experts resident
// (100 % device budget, preloaded: the upper bound), LRU on demand at --budget (offload without
// prediction), and ExpertFlow at --budget (prefetch on the predictor's NATS hints). Each is warmed up with
// W requests, then measured with a closed loop of N requests, C in flight, for each C of --concurrency in
// turn on the same mesh: output tokens/s, TTFT and TPOT p50/p99, CPU ms per output token of each process
// (router, shards, predictor, nats), and the shards' device-tier counters over the measured run (hit ratio,
// stalls, loads, bytes, device bytes used). The in-process runtime on the same prompts, C at a time, gives
// the mesh overhead (over_in_process). Without a simulated link two A/B rows run beside all-resident:
// resident-unary (the router's unary dispatch, one RunExperts per call: the baseline of the stream) and
// resident-worker (shards computing in a compute worker thread, one hop per call, instead of on the thread
// that serves the stream: the default; resident-inline names it explicitly).
// With --rounds R > 1 (one link setting) every configuration's mesh is started first, then R rounds each
// measure the in-process runtime and every mesh at every concurrency, the configurations' order rotating
// from round to round; a row is the round with the median tokens/s (all rounds' figures beside it), and
// over_in_process divides by the in-process median: A/B interleaved, as this shared machine needs.
// Ratios are against all-resident and against LRU with the same link, measured in the same run.
//
// On a CPU machine a host→device load is a message to a worker thread and costs little, so by default each
// configuration also runs with a simulated link (expert-shard --link-gbps): every load waits S / G, by
// default a Mixtral-8x7B expert (3·4096·14336 bf16 values, 352 MB) over PCIe 4.0 x16 (25 GB/s): 14 ms.
// The output says which rows are simulated and with what parameters.
//
// Letters (glossary: docs/ARCHITECTURE.md): N measured requests, W warm-up requests, C requests in flight, P
// prompt tokens, M output tokens per request, S simulated bytes per expert, G link bandwidth in GB/s (the
// benches' meanings).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODEL_DIR, Checkpoint, generate, TextTokenizer } from "@expertmesh/model";
import type { Prompt, ShardCacheReport, Summary } from "@expertmesh/loadtest";
import { isNonNegativeInt, isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";
import { heldOutText } from "./bench-traces.js";
import { linkBoundLimit, meshAccessStream, type LinkBoundLimit } from "./bench-e2e-limit.js";
import { simulateRun, type SimulatedRun } from "./bench-e2e-sim.js";
import { runPredictor } from "./predictor.js";
import {
  runE2eConfig,
  startE2eConfig,
  type E2eConfigName,
  type E2eMesh,
  type E2eRunResult,
  type E2eRunSpec,
  type SimulatedLinkSpec,
} from "./bench-e2e-mesh.js";
import { progress } from "../progress.js";

/** One Mixtral-8x7B expert in bf16: w1, w3 [14336, 4096] and w2 [4096, 14336], 2 bytes each. */
export const MIXTRAL_EXPERT_BYTES = 3 * 4096 * 14336 * 2;
/** PCIe 4.0 x16, in practice. */
export const PCIE4_X16_GBPS = 25;
const CONFIGS: Readonly<Record<"off" | "on", readonly E2eConfigName[]>> = {
  off: ["resident", "resident-unary", "resident-worker", "lru", "expertflow"],
  on: ["resident", "lru", "expertflow"],
};

interface Row {
  link: "off" | "on";
  config: E2eConfigName;
  budget: string;
  concurrency: number;
  summary: Summary;
  tokensPerS: number;
  elapsedS: number;
  outputTokens: number;
  cache: ShardCacheReport[];
  cpuMsPerToken: Record<string, number | null>;
  /** With --rounds: tokens/s of every round, in round order. */
  roundsTokensPerS?: number[];
  setupS: number;
  stepBatch: number;
  numLayers: number;
}

type InProcess = Awaited<ReturnType<typeof inProcessTokensPerS>> & { concurrency: number };

export async function benchE2eCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...modelFlags,
    text: { type: "string" },
    shards: { type: "string" },
    budget: { type: "string" },
    links: { type: "string" },
    "link-gbps": { type: "string" },
    "link-expert-bytes": { type: "string" },
    concurrency: { type: "string" },
    configs: { type: "string" },
    rounds: { type: "string" },
    requests: { type: "string" },
    "warmup-requests": { type: "string" },
    "prompt-tokens": { type: "string" },
    "max-tokens": { type: "string" },
    seed: { type: "string" },
    timeout: { type: "string" },
    json: { type: "boolean" },
    verbose: { type: "boolean" },
    regroup: { type: "boolean" },
    "step-batch": { type: "string" },
  });
  const stepBatch = numberFlag("step-batch", v["step-batch"], 4, (x) => isPositiveInt(x) && x <= 1024, "an integer in [1, 1024]");
  // expertflow-early (hints awaited before each decode step) only when --configs names it.
  const configsOf = (l: "off" | "on"): readonly E2eConfigName[] => [
    ...CONFIGS[l],
    ...(only?.includes("expertflow-early") ? (["expertflow-early"] as const) : []),
    ...(v.regroup ? (["expertflow-arrival", "expertflow-regroup"] as const) : []),
  ];
  const model = v.model ?? BUNDLED_MODEL_DIR;
  const shards = numberFlag("shards", v.shards, 2, (x) => isPositiveInt(x) && x <= 16, "an integer in [1, 16]");
  const budget = (v.budget ?? "25%").trim();
  const share = /^(\d+(?:\.\d+)?)\s*%$/.exec(budget);
  if (!share || !(Number(share[1]) > 0 && Number(share[1]) < 100))
    throw new UsageError(`--budget must be a share of each shard's experts in (0%, 100%), such as 25%, got ${JSON.stringify(budget)}`);
  const links = (v.links ?? "off,on").split(",").map((s) => s.trim());
  if (links.length === 0 || links.some((l) => l !== "off" && l !== "on") || new Set(links).size !== links.length) {
    throw new UsageError(`--links must be off, on, or off,on, got ${JSON.stringify(v.links)}`);
  }
  if (v.rounds !== undefined && Number(v.rounds) > 1 && links.length > 1)
    throw new UsageError(`--rounds above 1 needs one --links setting (off or on), got ${JSON.stringify(v.links ?? "off,on")}`);
  const link: SimulatedLinkSpec = {
    gbps: numberFlag("link-gbps", v["link-gbps"], PCIE4_X16_GBPS, (x) => x > 0 && x <= 100_000, "a bandwidth in GB/s in (0, 100000]"),
    expertBytes: numberFlag(
      "link-expert-bytes",
      v["link-expert-bytes"],
      MIXTRAL_EXPERT_BYTES,
      (x) => isPositiveInt(x) && x <= 2 ** 40,
      "a positive integer of bytes up to 2^40",
    ),
  };
  const Cs = (v.concurrency ?? "4")
    .split(",")
    .map((c) => numberFlag("concurrency", c.trim(), 4, (x) => isPositiveInt(x) && x <= 256, "a list of integers in [1, 256]"));
  if (new Set(Cs).size !== Cs.length) throw new UsageError(`--concurrency must not repeat a value, got ${JSON.stringify(v.concurrency)}`);
  const C = Math.max(...Cs);
  const rounds = numberFlag("rounds", v.rounds, 1, (x) => isPositiveInt(x) && x <= 100, "an integer in [1, 100]");
  const only = v.configs?.split(",").map((c) => c.trim());
  const known = new Set<string>([
    ...CONFIGS.off,
    ...CONFIGS.on,
    "resident-inline",
    "expertflow-early",
    "expertflow-arrival",
    "expertflow-regroup",
  ]);
  if (only !== undefined && (only.length === 0 || only.some((c) => !known.has(c)))) {
    throw new UsageError(`--configs must be a list of ${[...known].join(", ")}, got ${JSON.stringify(v.configs)}`);
  }
  const N = numberFlag("requests", v.requests, 16, (x) => isPositiveInt(x) && x <= 100_000, "an integer in [1, 100000]");
  const W = numberFlag("warmup-requests", v["warmup-requests"], C, (x) => isNonNegativeInt(x) && x <= 100_000, "an integer in [0, 100000]");
  const P = numberFlag("prompt-tokens", v["prompt-tokens"], 24, (x) => isPositiveInt(x) && x <= 4096, "an integer in [1, 4096]");
  const M = numberFlag("max-tokens", v["max-tokens"], 24, (x) => isPositiveInt(x) && x <= 4096, "an integer in [1, 4096]");
  const seed = numberFlag("seed", v.seed, 1, (x) => isNonNegativeInt(x) && x < 2 ** 32, "an integer in [0, 2^32)");
  const requestTimeoutMs = numberFlag("timeout", v.timeout, 120_000, (x) => x > 0, "milliseconds > 0");
  const checkpoint = Checkpoint.open(model);
  const { numLayers: L, numExperts: E } = checkpoint.config;
  if (shards > L * E) throw new UsageError(`--shards ${shards} exceeds the model's ${L * E} experts`);
  if (P + M > checkpoint.config.maxPositions)
    throw new UsageError(
      `--prompt-tokens + --max-tokens must be at most the context length ${checkpoint.config.maxPositions}, got ${P + M}`,
    );

  const t0 = performance.now();
  const log = (line: string) => progress.stage(line.replace(/^bench \w+: /, ""));
  const { prompts, source } = heldOutPrompts(model, v.text, checkpoint, W + N, P);
  const warmup = prompts.slice(0, W);
  const measured = prompts.slice(W);

  /** What one configuration's mesh and its measured runs need; the same for the interleaved and the single-round path. */
  const specOf = (config: E2eConfigName, l: "off" | "on"): E2eRunSpec => ({
    model,
    config,
    shards,
    budget,
    link: l === "on" ? link : undefined,
    numLayers: L,
    numExperts: E,
    concurrencies: Cs,
    warmup,
    measured,
    maxTokens: M,
    seed,
    requestTimeoutMs,
    stepBatch,
    log: v.verbose ? log : undefined,
  });
  const inProcess: InProcess[] = [];
  const rows: Row[] = [];
  if (rounds > 1) {
    const l = links[0] as "off" | "on";
    const meshes: { config: E2eConfigName; mesh: E2eMesh }[] = [];
    try {
      for (const config of configsOf(l).filter((c) => only === undefined || only.includes(c))) {
        log(`bench e2e: starting ${config} (link ${l === "on" ? "simulated" : "off"}) ...`);
        meshes.push({
          config,
          mesh: await startE2eConfig(specOf(config, l)),
        });
      }
      const inRounds = new Map<number, InProcess[]>();
      const byKey = new Map<string, E2eRunResult[]>();
      for (let round = 0; round < rounds; round++) {
        for (const c of Cs) {
          log(`bench e2e: round ${round + 1}/${rounds}, ${c} in flight ...`);
          inRounds.set(c, [...(inRounds.get(c) ?? []), { concurrency: c, ...(await inProcessTokensPerS(v, warmup, measured, c, M)) }]);
          for (let i = 0; i < meshes.length; i++) {
            const m = meshes[(i + round) % meshes.length]!;
            const key = `${m.config}/${c}`;
            byKey.set(key, [...(byKey.get(key) ?? []), await m.mesh.measure(c)]);
          }
        }
      }
      const median = <T extends { tokensPerS?: number; tokens_per_s?: number }>(xs: T[]) =>
        [...xs].sort((a, b) => (a.tokensPerS ?? a.tokens_per_s!) - (b.tokensPerS ?? b.tokens_per_s!))[Math.floor(xs.length / 2)]!;
      for (const c of Cs) inProcess.push(median(inRounds.get(c)!));
      for (const { config } of meshes) {
        for (const c of Cs) {
          const all = byKey.get(`${config}/${c}`)!;
          rows.push({
            link: l,
            config,
            budget: config.startsWith("resident") ? "100%" : budget,
            ...median(all),
            roundsTokensPerS: all.map((r) => r.tokensPerS),
            stepBatch,
            numLayers: L,
          });
        }
      }
    } finally {
      for (const m of meshes) await m.mesh.stop();
    }
  } else {
    for (const c of Cs) {
      log(`bench e2e: in-process runtime on ${N} prompts, ${c} at a time ...`);
      inProcess.push({ concurrency: c, ...(await inProcessTokensPerS(v, warmup, measured, c, M)) });
    }
  }
  for (const l of rounds > 1 ? [] : links) {
    for (const config of configsOf(l as "off" | "on").filter((c) => only === undefined || only.includes(c))) {
      log(`bench e2e: ${config} (link ${l === "on" ? "simulated" : "off"}) ...`);
      const results = await runE2eConfig(specOf(config, l as "off" | "on"));
      for (const r of results)
        rows.push({
          link: l as "off" | "on",
          config,
          budget: config.startsWith("resident") ? "100%" : budget,
          ...r,
          stepBatch,
          numLayers: L,
        });
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const failed = rows.reduce((a, r) => a + r.summary.requests.failed + r.summary.requests.notSent, 0);
  // The link-bound limit of each concurrency, from its all-resident row and its in-process routing.
  const limits = new Map<number, LinkBoundLimit>();
  for (const ip of inProcess) {
    const residentOn = rows.find((r) => r.link === "on" && r.config === "resident" && r.concurrency === ip.concurrency);
    // Without an all-resident row the bound counts the link only (compute unmeasured): looser, still a bound.
    const limit =
      links.includes("on") &&
      linkBoundLimit(ip.stream, {
        shards,
        budgetPercent: Number(share[1]),
        transferMs: link.expertBytes / (link.gbps * 1e6),
        outputTokens: residentOn?.outputTokens ?? ip.tokens,
        residentSeconds: residentOn?.elapsedS,
      });
    if (limit) limits.set(ip.concurrency, limit);
  }
  // The simulator on the same requests (bench-e2e-sim.ts): what the live ratios are to be compared with.
  const simulated = new Map<number, SimulatedRun>();
  if (links.includes("on")) {
    const predictorFile = join(checkpoint.dir, "predictor.onnx");
    for (const ip of inProcess) {
      const residentOn = rows.find((r) => r.link === "on" && r.config === "resident" && r.concurrency === ip.concurrency);
      const predictions = existsSync(predictorFile)
        ? await runPredictor(readFileSync(predictorFile), predictorFile, ip.stream.trace, { threads: 1, executionProvider: "cpu" })
        : undefined;
      simulated.set(
        ip.concurrency,
        simulateRun(ip.stream, {
          shards,
          budgetPercent: Number(share[1]),
          expertBytes: link.expertBytes,
          linkGbps: link.gbps,
          outputTokens: ip.tokens,
          residentSeconds: residentOn?.elapsedS,
          predictions,
        }),
      );
    }
  }
  const params = {
    model: checkpoint.dir,
    prompts: source,
    shards,
    budget,
    concurrency: Cs,
    rounds,
    requests: N,
    warmup_requests: W,
    prompt_tokens: P,
    max_tokens: M,
    seed,
    real_expert_bytes: checkpoint.expertBytes(),
    experts: L * E,
    simulated_link: links.includes("on")
      ? { gbps: link.gbps, expert_bytes: link.expertBytes, ms_per_load: link.expertBytes / (link.gbps * 1e6) }
      : null,
  };
  if (v.json) {
    const inProcessJson = inProcess.map(({ stream: _, ...rest }) => rest);
    const limitJson = [...limits].map(([concurrency, l]) => ({ concurrency, ...l }));
    const simulatedJson = [...simulated].map(([concurrency, r]) => ({ concurrency, ...r }));
    console.log(
      JSON.stringify({
        benchmark: "e2e",
        ...params,
        in_process: inProcessJson.length === 1 ? inProcessJson[0] : inProcessJson,
        link_bound_limit: limitJson.length === 0 ? null : limitJson.length === 1 ? limitJson[0] : limitJson,
        simulated_on_run: simulatedJson.length === 0 ? null : simulatedJson.length === 1 ? simulatedJson[0] : simulatedJson,
        rows: rows.map((r) => rowJson(r, rows, inProcessAt(inProcess, r.concurrency), link, limits.get(r.concurrency))),
        failed_requests: failed,
        seconds,
      }),
    );
  } else {
    printTable(params, rows, inProcess, link, seconds, limits);
    for (const [c, r] of simulated)
      console.log(
        `simulated on the same requests (C=${c}, ${r.capacity_per_shard} slots per shard, τ ${r.layer_ms.toFixed(2)} ms per layer-step): ` +
          r.rows.map((x) => `${x.policy} ${x.loads} loads, ${x.tokens_per_s.toFixed(1)} tok/s (${x.over_lru.toFixed(2)}x LRU)`).join("; "),
      );
  }
  if (failed > 0)
    throw new Error(`${failed} requests failed or were not sent: the figures are not comparable (the errors are in each row of --json)`);
}

/** W + N prompts of about P tokens: the starts of held-out paragraphs spread over the whole text. */
function heldOutPrompts(
  model: string,
  text: string | undefined,
  checkpoint: Checkpoint,
  count: number,
  P: number,
): { prompts: Prompt[]; source: string } {
  const { text: body, name } = heldOutText(model, text);
  const tok = TextTokenizer.load(checkpoint.dir, checkpoint.config);
  const paragraphs = body
    .split(/\n\s*\n/)
    .map((p) => p.trim().split(/\s+/))
    .filter((words) => words.length >= 4);
  if (paragraphs.length === 0) throw new UsageError(`${name}: no paragraphs to take prompts from`);
  const prompts: Prompt[] = [];
  for (let i = 0; i < count; i++) {
    const words = paragraphs[Math.floor((i * paragraphs.length) / count)];
    // The most words whose prompt (BOS included) is at most P tokens; at least one word.
    let lo = 1;
    let hi = words.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (tok.encodePrompt(words.slice(0, mid).join(" ")).length <= P) lo = mid;
      else hi = mid - 1;
    }
    const prompt = words.slice(0, lo).join(" ");
    prompts.push({ text: prompt, tokens: tok.encodePrompt(prompt).length });
  }
  return { prompts, source: `${name} (${count} paragraph starts of up to ${P} tokens)` };
}

const inProcessAt = (all: readonly InProcess[], c: number) => all.find((x) => x.concurrency === c)!.tokens_per_s;

/** Output tokens/s of the in-process runtime (every expert in memory, no mesh) on the measured prompts, C at a time. */
async function inProcessTokensPerS(
  v: { model?: string; threads?: string; provider?: string },
  warmup: readonly Prompt[],
  measured: readonly Prompt[],
  C: number,
  M: number,
) {
  const rt = await loadModel(v);
  try {
    const tok = TextTokenizer.load(rt.checkpoint.dir, rt.config);
    const batches = (ps: readonly Prompt[]) =>
      Array.from({ length: Math.ceil(ps.length / C) }, (_, i) => ps.slice(i * C, (i + 1) * C).map((p) => tok.encodePrompt(p.text)));
    for (const b of batches(warmup).slice(0, 1)) await generate(rt, b, { maxTokens: M });
    // The median of three passes: one pass is short, and this machine is shared.
    const passes: { tokens: number; seconds: number; tokens_per_s: number; cpu_ms_per_token: number }[] = [];
    const requests: { prompt: number[]; output: number[] }[] = [];
    for (let pass = 0; pass < 3; pass++) {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      let tokens = 0;
      for (const b of batches(measured)) {
        const out = (await generate(rt, b, { maxTokens: M })).tokens;
        tokens += out.reduce((a, t) => a + t.length, 0);
        if (pass === 0)
          out.forEach((o, i) => {
            requests.push({ prompt: b[i], output: o });
          });
      }
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      passes.push({ tokens, seconds, tokens_per_s: tokens / seconds, cpu_ms_per_token: (cpu.user + cpu.system) / 1000 / tokens });
    }
    // The measured requests' routing in the mesh's order, for the link-bound limit (bench-e2e-limit.ts).
    const stream = await meshAccessStream(rt, requests, C);
    return { ...passes.sort((a, b) => a.tokens_per_s - b.tokens_per_s)[1]!, stream };
  } finally {
    await rt.release();
  }
}

/** Device-tier counters over the measured run, summed over the shards. */
function cacheTotals(cache: readonly ShardCacheReport[]) {
  const t = {
    hits: 0,
    stalls: 0,
    loads: 0,
    prefetchLoads: 0,
    wastedPrefetches: 0,
    bytesLoaded: 0,
    usedBytes: 0,
    budgetBytes: 0,
    resident: 0,
    missingShards: 0,
  };
  for (const c of cache) {
    if (!c.delta) {
      t.missingShards++;
      continue;
    }
    t.hits += c.delta.hits;
    t.stalls += c.delta.misses;
    t.loads += c.delta.loads;
    t.prefetchLoads += c.delta.prefetchLoads;
    t.wastedPrefetches += c.delta.wastedPrefetches;
    t.bytesLoaded += c.delta.bytesLoaded;
    t.usedBytes += c.delta.usedBytes;
    t.budgetBytes += c.delta.budgetBytes;
    t.resident += c.delta.resident;
  }
  return { ...t, hitRatio: t.hits + t.stalls > 0 ? t.hits / (t.hits + t.stalls) : NaN };
}

const tokensPerS = (r: Row) => r.tokensPerS;
const baseline = (rows: readonly Row[], r: Row, config: E2eConfigName) =>
  rows.find((x) => x.link === r.link && x.config === config && x.concurrency === r.concurrency);
const ratio = (a: number, b: number | undefined) => (b !== undefined && b > 0 ? a / b : NaN);

function rowJson(r: Row, rows: readonly Row[], inProcessTokensPerS: number, link: SimulatedLinkSpec, limit: LinkBoundLimit | undefined) {
  const c = cacheTotals(r.cache);
  const lat = r.summary.latencyMs;
  const resident = baseline(rows, r, "resident");
  const lru = baseline(rows, r, "lru");
  return {
    link: r.link === "on" ? { simulated: true, gbps: link.gbps, expert_bytes: link.expertBytes } : { simulated: false },
    config: r.config,
    concurrency: r.concurrency,
    device_budget: r.budget,
    requests: r.summary.requests,
    errors: r.summary.errors,
    tokens_per_s: tokensPerS(r),
    output_tokens: r.outputTokens,
    elapsed_s: r.elapsedS,
    tokens_per_s_over_resident: resident && ratio(tokensPerS(r), tokensPerS(resident)),
    tokens_per_s_over_lru: lru && ratio(tokensPerS(r), tokensPerS(lru)),
    over_in_process: ratio(tokensPerS(r), inProcessTokensPerS),
    ttft_p50_ms: lat.ttft.p50,
    ttft_p99_ms: lat.ttft.p99,
    tpot_p50_ms: lat.tpot.p50,
    tpot_p99_ms: lat.tpot.p99,
    cpu_ms_per_token: r.cpuMsPerToken,
    ...(r.roundsTokensPerS ? { rounds_tokens_per_s: r.roundsTokensPerS } : {}),
    ...(r.link === "on"
      ? {
          over_lru: lru ? ratio(tokensPerS(r), tokensPerS(lru)) : null,
          over_limit: limit ? ratio(tokensPerS(r), limit.tokens_per_s) : null,
        }
      : {}),
    ...(r.config === "expertflow-arrival" || r.config === "expertflow-regroup"
      ? { step_batch: r.stepBatch, distinct_experts_per_step: ratio(c.hits + c.stalls, (r.outputTokens / r.stepBatch) * r.numLayers) }
      : {}),
    ttft_ms: { p50: lat.ttft.p50, p99: lat.ttft.p99 },
    tpot_ms: { p50: lat.tpot.p50, p99: lat.tpot.p99 },
    e2e_ms: { p50: lat.e2e.p50, p99: lat.e2e.p99 },
    device: {
      hits: c.hits,
      stalls: c.stalls,
      hit_ratio: c.hitRatio,
      loads: c.loads,
      prefetch_loads: c.prefetchLoads,
      wasted_prefetches: c.wastedPrefetches,
      bytes_loaded: c.bytesLoaded,
      simulated_bytes_moved: r.link === "on" ? c.loads * link.expertBytes : null,
      used_bytes: c.usedBytes,
      budget_bytes: c.budgetBytes,
      resident_experts: c.resident,
      shards_unread: c.missingShards,
    },
    setup_s: r.setupS,
  };
}

function printTable(
  p: {
    model: string;
    prompts: string;
    shards: number;
    budget: string;
    concurrency: number[];
    requests: number;
    warmup_requests: number;
    max_tokens: number;
    real_expert_bytes: number;
    experts: number;
  },
  rows: readonly Row[],
  inProcess: readonly InProcess[],
  link: SimulatedLinkSpec,
  seconds: number,
  limits: ReadonlyMap<number, LinkBoundLimit>,
): void {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB*`;
  console.log(
    `bench e2e: ${p.model}, ${p.experts} experts of ${(p.real_expert_bytes / 1024).toFixed(0)} KiB over ${p.shards} shards; prompts: ${p.prompts}`,
  );
  console.log(
    `load: closed loop, ${p.concurrency.join(" / ")} in flight, ${p.requests} measured requests after ${p.warmup_requests} warm-up, ${p.max_tokens} output tokens each, greedy`,
  );
  console.log(
    `device budget: resident = 100 % (every expert preloaded: the upper bound); lru and expertflow = ${p.budget} of each shard's experts`,
  );
  const simulated = rows.some((r) => r.link === "on");
  console.log(`link off: NOT simulated; a host→device load costs what it costs on this machine (a message to a compute worker thread)`);
  if (simulated) {
    console.log(
      `link on:  SIMULATED host→device link of ${link.gbps} GB/s, ${link.expertBytes} bytes per expert (${link.expertBytes === MIXTRAL_EXPERT_BYTES ? "a Mixtral-8x7B expert in bf16" : "--link-expert-bytes"}): ` +
        `every load waits ${f(link.expertBytes / (link.gbps * 1e6))} ms on its shard's link (loads queue on it); compute is the small model's`,
    );
  }
  for (const ip of inProcess) {
    console.log(
      `in-process runtime (all experts in memory, no mesh): ${f(ip.tokens_per_s, 1)} tokens/s at ${ip.concurrency} prompts per batch (${ip.tokens} tokens in ${f(ip.seconds)} s, median of 3 passes; ${f(ip.cpu_ms_per_token)} CPU ms/token)`,
    );
  }
  console.log("");
  const head =
    "link config               C    tok/s  ×resid   ×lru  ×in-proc  TTFT p50    p99  TPOT p50    p99   hit %  stalls  loads  prefetch  wasted       moved  device used/budget";
  console.log(head);
  for (const r of rows) {
    const c = cacheTotals(r.cache);
    const lat = r.summary.latencyMs;
    const slots = Math.round(c.budgetBytes / p.real_expert_bytes);
    const moved = r.link === "on" ? gb(c.loads * link.expertBytes) : mb(c.bytesLoaded);
    const used = `${c.resident}/${slots} experts, ${r.link === "on" ? gb(c.resident * link.expertBytes) : mb(c.usedBytes)}`;
    console.log(
      r.link.padEnd(5) +
        r.config.padEnd(19) +
        String(r.concurrency).padStart(3) +
        f(tokensPerS(r), 1).padStart(9) +
        f(ratio(tokensPerS(r), tokensPerS(baseline(rows, r, "resident") ?? r))).padStart(8) +
        f(ratio(tokensPerS(r), baseline(rows, r, "lru") && tokensPerS(baseline(rows, r, "lru")!))).padStart(7) +
        f(ratio(tokensPerS(r), inProcessAt(inProcess, r.concurrency))).padStart(10) +
        [lat.ttft.p50, lat.ttft.p99, lat.tpot.p50, lat.tpot.p99].map((x, i) => f(x, 1).padStart(i % 2 === 0 ? 10 : 7)).join("") +
        f(c.hitRatio * 100, 1).padStart(8) +
        String(c.stalls).padStart(8) +
        String(c.loads).padStart(7) +
        String(c.prefetchLoads).padStart(10) +
        String(c.wastedPrefetches).padStart(8) +
        moved.padStart(12) +
        `  ${used}` +
        `  cpu ms/token ${Object.entries(r.cpuMsPerToken)
          .map(([k, x]) => `${k} ${x === null ? "-" : f(x)}`)
          .join(" ")}`,
    );
  }
  console.log("");
  console.log(
    "×resid, ×lru: tokens/s against all-resident and against lru with the same link, in this run; ×in-proc: against the in-process runtime",
  );
  console.log(
    "TTFT and TPOT in ms; hit %, stalls (RunExperts that waited for a load), loads (of which prefetched, and evicted unused) over the measured run, all shards",
  );
  if (simulated) console.log("* simulated bytes (link on rows): loads × the simulated expert size, and resident experts × it");
  for (const r of rows.filter((x) => x.config === "expertflow-arrival" || x.config === "expertflow-regroup")) {
    const c = cacheTotals(r.cache);
    console.log(
      `${r.link} ${r.config}: step batch ${r.stepBatch}, about ${f(ratio(c.hits + c.stalls, (r.outputTokens / r.stepBatch) * r.numLayers))} distinct experts per layer-step (device accesses / (output tokens / step batch × L))`,
    );
  }
  for (const [c, limit] of limits) {
    console.log(
      `link-bound limit (link on, ${c} in flight): ${f(limit.tokens_per_s, 1)} tokens/s = output tokens / max(all-resident ${limit.resident_s === null ? "not run: link only" : `${f(limit.resident_s)} s`}, Belady's ` +
        `${limit.belady_loads_per_shard.join("/")} loads per shard × ${f(link.expertBytes / (link.gbps * 1e6))} ms = ${f(limit.link_s)} s); ` +
        rows
          .filter((r) => r.link === "on" && r.concurrency === c)
          .map((r) => `${r.config} ${f(ratio(tokensPerS(r), limit.tokens_per_s))}x`)
          .join(", ") +
        " of it",
    );
  }
  console.log(`${f(seconds, 0)} s in all`);
}
