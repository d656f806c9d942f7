// expertmesh bench cache [--model DIR | --config config.json] [--traces FILE | --text FILE] [--max-tokens N]
//   [--predictor FILE.onnx] [--prior FILE.onnx] [--next-predictor FILE.onnx|none] [--budgets 12.5,25,50] [--batches 1,4,16] [--link-gbps G]
//   [--expert-bytes X|config] [--layer-ms τ] [--shards N] [--horizons 0,1,2] [--late-hints 1] [--no-pre-gate] [--json]
//
// The device-tier cache on routing traces of held-out text (or any imported trace), in decode order
// (packages/moe cache-access.ts), counted in what the real system pays: the time-honest simulator
// (cache-sim-time.ts) gives each policy's simulated time per token, its share of time stalled, loads,
// bytes moved and wasted prefetches; hit ratio is kept. By default the link and expert size are those of
// `bench e2e --links on`: one Mixtral-8x7B expert (352 MB in bf16) over PCIe 4.0 x16 (25 GB/s), 14 ms a
// load; `--expert-bytes config` takes 3·D·F·(bytes of the config's torch_dtype) instead.
//
// Rows per budget and batch, all in the same run: LRU on demand; LRU + the same prefetches as expertflow;
// expertflow-v1 (the earlier policy, a baseline); expertflow on each predictor: the trained --predictor,
// "prev+prior", the flat-demand ablation (k/E for every expert: no prediction at all, so the predictor's own
// contribution is a line of its own), the oracle (the true routing: the policy's limit, not a predictor);
// horizon[h] for each --horizons h (evicts knowing the exact routing of the current step and h more, a
// reference that no causal policy can run: horizon[0] evicts with what a perfect predictor of the current
// step knows, and the first h that reaches a figure says about how far ahead one would have to know the
// routing); Belady's MIN (the fewest loads of any policy); and the lower bound on time from Belady's loads
// with perfect overlap. With the model's weights the pre-gate (layer l's gate on layer l-1's hidden state) corrects
// the expertflow[predictor] row one layer ahead. The next-step predictor (--next-predictor, else
// predictor-next.onnx beside the model: the routing of the token after the one decoded, predicts=next-step)
// informs that row's eviction of experts next used in the next step; `expertflow[predictor, no next-step]`
// is the same row without it (its ablation). LRU + the same prefetches gets the same signals.
// `expertflow[predictor, hints at layer j]` for each --late-hints j is the predictor's row as a live mesh
// feeds it today: no pre-gate, no next-step, and step t's prediction reaching the policy only at layer j
// (the router predicts from step t's tokens while its first layers run; before, the previous step's hints).
//
// --config FILE needs no weights: L, E, k (and D, F, dtype for --expert-bytes config) come from it, and the
// trace must agree with it.
//
// Letters (glossary: docs/ARCHITECTURE.md): N tokens, L MoE layers, E experts per layer, k experts per token, B
// sequences per step, C slots per shard, X expert bytes, G link bandwidth, τ compute time of one layer-step.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  BUNDLED_MODEL_DIR,
  describePredictor,
  parseConfig,
  PREDICTS_KEY,
  PREDICTS_NEXT_STEP,
  readOnnxMetadata,
  preGatePredictions,
  readPredictorInfo,
  type ExecutionProvider,
} from "@expertmesh/model";
import {
  accessStream,
  batchDemand,
  BeladyPolicy,
  decodeSchedule,
  ExpertflowPolicy,
  ExpertflowTimePolicy,
  HorizonOraclePolicy,
  LruPolicy,
  oraclePredictions,
  previousTokenPredictions,
  simulateTimed,
  timeLowerBound,
  type CachePolicy,
  type RoutingTrace,
  type TimedResult,
} from "@expertmesh/moe";
import { fileFlagError, isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { loadModel } from "../model-options.js";
import { MIXTRAL_EXPERT_BYTES, PCIE4_X16_GBPS } from "./bench-e2e.js";
import { benchTraceFlags, loadBenchTrace } from "./bench-traces.js";
import { runPredictor } from "./predictor.js";
import { progress } from "../progress.js";

const DEFAULT_BUDGETS = [12.5, 25, 50];
const DEFAULT_BATCHES = [1, 4, 16];
const DEFAULT_HORIZONS = [0, 1, 2];
/** τ by default: about one decode layer-step of a Mixtral-class model on an accelerator at small batch. */
export const DEFAULT_LAYER_MS = 1;
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, float16: 2, bfloat16: 2, float8_e4m3fn: 1, int8: 1 };

interface Row extends TimedResult {
  batch: number;
  budgetPercent: number;
  label: string;
  predictor: string | null;
  boundMsPerToken: number;
  timeOverLru: number;
  timeOverBound: number;
  bytesOverBelady: number;
  timeOverFlat: number;
}

interface Shape {
  L: number;
  E: number;
  k: number;
  D?: number;
  F?: number;
  dtype?: string;
}

export async function benchCacheCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...benchTraceFlags,
    config: { type: "string" },
    predictor: { type: "string" },
    prior: { type: "string" },
    "next-predictor": { type: "string" },
    budgets: { type: "string" },
    batches: { type: "string" },
    "link-gbps": { type: "string" },
    "expert-bytes": { type: "string" },
    "layer-ms": { type: "string" },
    shards: { type: "string" },
    horizons: { type: "string" },
    "late-hints": { type: "string" },
    "no-pre-gate": { type: "boolean" },
    json: { type: "boolean" },
  });
  const budgets = listFlag(
    "budgets",
    v.budgets,
    DEFAULT_BUDGETS,
    (x) => x > 0 && x <= 100,
    "a comma-separated list of percentages in (0, 100]",
  );
  const batches = listFlag("batches", v.batches, DEFAULT_BATCHES, isPositiveInt, "a comma-separated list of positive integers");
  const horizons =
    v.horizons?.trim() === "none"
      ? []
      : listFlag(
          "horizons",
          v.horizons,
          DEFAULT_HORIZONS,
          (x) => Number.isInteger(x) && x >= 0 && x <= 1_000_000,
          'a comma-separated list of decode steps in [0, 1000000], or "none"',
        );
  const lateHints =
    v["late-hints"]?.trim() === "none"
      ? []
      : listFlag(
          "late-hints",
          v["late-hints"],
          [1],
          (x) => Number.isInteger(x) && x >= 1 && x <= 1024,
          'a comma-separated list of layers in [1, 1024], or "none"',
        );
  const linkGbps = numberFlag(
    "link-gbps",
    v["link-gbps"],
    PCIE4_X16_GBPS,
    (x) => x > 0 && x <= 100_000,
    "a bandwidth in GB/s in (0, 100000]",
  );
  const layerMs = numberFlag("layer-ms", v["layer-ms"], DEFAULT_LAYER_MS, (x) => x >= 0 && x <= 60_000, "milliseconds in [0, 60000]");
  const shards = numberFlag("shards", v.shards, 1, (x) => isPositiveInt(x) && x <= 1024, "an integer in [1, 1024]");
  if (v.config !== undefined && v.model !== undefined)
    throw new UsageError("--config and --model exclude each other (--config: a config.json without weights)");
  if (v.config !== undefined && v.traces === undefined)
    throw new UsageError("--config needs --traces FILE (without weights no trace can be recorded)");
  const modelDir = v.model ?? BUNDLED_MODEL_DIR;
  const t0 = performance.now();

  // The model's shape: from --config, else the model directory's config.json (no weights read).
  const configFile = v.config ?? join(modelDir, "config.json");
  const configFlag = v.config !== undefined ? "--config" : "--model";
  const shape = readShape(configFile, configFlag);
  const { trace, source } = await loadBenchTrace(v);
  const { numLayers: L, numExperts: E } = trace;
  if (trace.numLayers !== shape.L || trace.numExperts !== shape.E || trace.topK !== shape.k) {
    throw new UsageError(
      `--traces ${v.traces ?? "(recorded)"} has L=${trace.numLayers} E=${trace.numExperts} k=${trace.topK}, but ${configFlag} ${configFile} says L=${shape.L} E=${shape.E} k=${shape.k}`,
    );
  }
  const expertBytes = expertBytesFlag(v["expert-bytes"], shape, configFlag, configFile);

  // Predictions [N, L, E]: the trained predictor and the prior (from flags, else beside the model when
  // the model directory is in use), the oracle-free previous token + prior, the flat ablation, the oracle.
  const session = {
    threads: numberFlag("threads", v.threads, 1, isPositiveInt, "a positive integer"),
    executionProvider: (v.provider ?? "cpu") as ExecutionProvider,
  };
  const besideModel = (name: string) => (v.config === undefined && existsSync(join(modelDir, name)) ? join(modelDir, name) : undefined);
  const predictorFile = v.predictor ?? besideModel("predictor.onnx");
  const priorFile = v.prior ?? besideModel("predictor-prior.onnx");
  const predictors: { name: string; what: string; perToken: Float32Array }[] = [];
  if (predictorFile !== undefined) {
    if (trace.tokenIds.some((t) => t < 0))
      throw new UsageError(`--predictor ${predictorFile} reads token ids, and the trace has none (imported without "token_id")`);
    predictors.push({
      name: "predictor",
      what: `${predictorFile}: ${checkPredictor(predictorFile, "--predictor", trace)}`,
      perToken: await runOnnx(predictorFile, "--predictor", trace, session),
    });
  }
  if (priorFile !== undefined) {
    checkPredictor(priorFile, "--prior", trace);
    const prior = meanRow(await runOnnx(priorFile, "--prior", trace, session), L * E);
    predictors.push({
      name: "prev+prior",
      what: `previous token's experts (weight 0.5) + the prior of ${priorFile}, oracle-free`,
      perToken: previousTokenPredictions(trace, prior),
    });
  }
  predictors.push({
    name: "flat",
    what: `the flat-demand ablation: k/E = ${(trace.topK / E).toFixed(3)} for every expert (no prediction)`,
    perToken: new Float32Array(trace.tokens * L * E).fill(trace.topK / E),
  });
  predictors.push({
    name: "oracle",
    what: "the true routing (a reference for the policy's limit, not a predictor)",
    perToken: oraclePredictions(trace),
  });
  const main = predictors[0].name === "flat" ? undefined : predictors[0].name;
  const nextFile = v["next-predictor"] === "none" ? undefined : (v["next-predictor"] ?? besideModel("predictor-next.onnx"));
  let next: { what: string; perToken: Float32Array } | undefined;
  if (nextFile !== undefined) {
    if (main !== "predictor")
      throw new UsageError(`--next-predictor ${nextFile} informs the trained predictor's row: pass --predictor FILE.onnx too`);
    const what = checkPredictor(nextFile, "--next-predictor", trace);
    if (readOnnxMetadata(readFileSync(nextFile), nextFile).get(PREDICTS_KEY) !== PREDICTS_NEXT_STEP)
      throw new UsageError(
        `--next-predictor ${nextFile} does not predict the next step (metadata ${PREDICTS_KEY}=${PREDICTS_NEXT_STEP}; made by \`predictor next\`)`,
      );
    next = { what: `${nextFile}: ${what}`, perToken: await runOnnx(nextFile, "--next-predictor", trace, session) };
  }
  const preGate =
    v.config === undefined && !v["no-pre-gate"] && main === "predictor" ? await preGateOf(v, trace) : { perToken: undefined, note: "none" };

  const rows: Row[] = [];
  let simulated = 0;
  progress.stage("simulating the caches");
  for (const batch of batches) {
    const schedule = decodeSchedule(trace, batch);
    const stream = accessStream(trace, schedule);
    const tokens = schedule.tokens.reduce((n, t) => n + (t >= 0 ? 1 : 0), 0);
    const demand = new Map(predictors.map((p) => [p.name, batchDemand(p.perToken, schedule, trace)]));
    const lookahead = preGate.perToken && batchDemand(preGate.perToken, schedule, trace);
    const nextDemand = next && batchDemand(next.perToken, schedule, trace);
    for (const budgetPercent of budgets) {
      progress.count(simulated++, batches.length * budgets.length, `batch × budget runs (batch ${batch}, budget ${budgetPercent} %)`);
      const capacity = Math.max(1, Math.round((budgetPercent / 100) * ((L * E) / shards)));
      const policyShape = { numLayers: L, numExperts: E, capacity };
      const opts = { capacity, expertBytes, linkGbps, layerMs, shards, tokens };
      // The main predictor's rows get its pre-gate correction and next-step prediction (unless `noNext`).
      const run = (label: string, make: () => CachePolicy, predictor: string | null, noNext = false, demandFromLayer = 0): Row => {
        const isMain = predictor !== null && predictor === main && demandFromLayer === 0;
        const r = simulateTimed(stream, make, {
          ...opts,
          demand: predictor === null ? undefined : demand.get(predictor),
          lookahead: isMain ? lookahead : undefined,
          nextDemand: isMain && !noNext ? nextDemand : undefined,
          demandFromLayer,
        });
        return {
          ...r,
          batch,
          budgetPercent,
          label,
          predictor,
          boundMsPerToken: NaN,
          timeOverLru: NaN,
          timeOverBound: NaN,
          bytesOverBelady: NaN,
          timeOverFlat: NaN,
        };
      };
      const group: Row[] = [run("lru", () => new LruPolicy(), null)];
      if (main !== undefined) {
        group.push(run(`lru+prefetch[${main}]`, () => new ExpertflowTimePolicy({ ...policyShape, eviction: "lru" }), main));
        group.push(run(`expertflow-v1[${main}]`, () => new ExpertflowPolicy(policyShape), main));
      }
      for (const p of predictors) {
        group.push(run(`expertflow[${p.name}]`, () => new ExpertflowTimePolicy(policyShape), p.name));
        if (p.name === main && nextDemand !== undefined)
          group.push(run(`expertflow[${p.name}, no next-step]`, () => new ExpertflowTimePolicy(policyShape), p.name, true));
        if (p.name === main)
          for (const j of lateHints.filter((j) => j <= L))
            group.push(run(`expertflow[${p.name}, hints at layer ${j}]`, () => new ExpertflowTimePolicy(policyShape), p.name, true, j));
      }
      for (const h of horizons) group.push(run(`horizon[${h}]`, () => new HorizonOraclePolicy(stream, h), null));
      const beladyLoads: number[] = [];
      const belady = run(
        "belady",
        () => {
          const b = new BeladyPolicy(stream);
          return b;
        },
        null,
      );
      group.push(belady);
      // Belady's loads per shard, for the bound: one run per shard's own accesses.
      for (let s = 0; s < shards; s++)
        beladyLoads.push(
          shards === 1
            ? belady.loads
            : simulateTimed(onlyShard(stream, s, shards), () => new BeladyPolicy(stream), { ...opts, shards: 1 }).loads,
        );
      const boundMs = timeLowerBound(stream, beladyLoads, { expertBytes, linkGbps, layerMs });
      const lru = group[0];
      const flat = group.find((r) => r.label === "expertflow[flat]")!;
      for (const r of group) {
        r.boundMsPerToken = boundMs / tokens;
        r.timeOverLru = r.timeMs / lru.timeMs;
        r.timeOverBound = r.timeMs / boundMs;
        r.bytesOverBelady = r.bytes / belady.bytes;
        if (r.label.startsWith("expertflow[")) r.timeOverFlat = r.timeMs / flat.timeMs;
      }
      rows.push(...group);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const floors = floorChecks(rows, main);
  const x = expertBytes / (linkGbps * 1e6);
  if (v.json) {
    console.log(
      JSON.stringify({
        source,
        tokens: trace.tokens,
        num_layers: L,
        num_experts: E,
        top_k: trace.topK,
        config: configFile,
        expert_bytes: expertBytes,
        link_gbps: linkGbps,
        transfer_ms: x,
        layer_ms: layerMs,
        shards,
        pre_gate: preGate.note,
        next_step: next?.what ?? "none",
        bound: "time >= max(S*L*layer_ms, max over shards of Belady's loads * transfer_ms): Belady's loads with perfect overlap",
        horizons: "horizon[h]: evicts knowing the exact routing of the current step and h more (a reference no causal policy can run)",
        late_hints:
          "expertflow[predictor, hints at layer j]: as a live mesh feeds it (no pre-gate, no next-step; step t's prediction from layer j on, the previous step's before)",
        predictors: predictors.map(({ name, what }) => ({ name, what })),
        rows: rows.map((r) => ({
          batch: r.batch,
          budget_percent: r.budgetPercent,
          capacity: r.capacity,
          policy: r.label,
          predictor: r.predictor,
          ms_per_token: r.msPerToken,
          time_ms: r.timeMs,
          stall_share: r.stallShare,
          stall_ms: r.stallMs,
          loads: r.loads,
          demand_loads: r.demandLoads,
          prefetch_loads: r.prefetchLoads,
          wasted_prefetches: r.wastedPrefetches,
          bytes: r.bytes,
          accesses: r.accesses,
          stalls: r.stalls,
          hit_ratio: r.hitRatio,
          bound_ms_per_token: r.boundMsPerToken,
          time_over_lru: r.timeOverLru,
          time_over_bound: r.timeOverBound,
          bytes_over_belady: r.bytesOverBelady,
          time_over_flat: Number.isFinite(r.timeOverFlat) ? r.timeOverFlat : null,
        })),
        floors,
        seconds,
      }),
    );
    return;
  }
  printTable(rows, {
    source,
    L,
    E,
    k: trace.topK,
    expertBytes,
    linkGbps,
    x,
    layerMs,
    shards,
    preGate: preGate.note,
    nextStep: next?.what ?? "none",
    predictors,
    floors,
    seconds,
  });
}

/** The floors at 25 %, batches 1 and 4, for expertflow on the trained predictor. */
function floorChecks(rows: Row[], main: string | undefined) {
  if (main === undefined) return [];
  return rows
    .filter((r) => r.label === `expertflow[${main}]` && r.budgetPercent === 25 && (r.batch === 1 || r.batch === 4))
    .map((r) => ({
      batch: r.batch,
      budget_percent: 25,
      predictor: main,
      bytes_over_belady: r.bytesOverBelady,
      bytes_floor_met: r.bytesOverBelady <= 1.3,
      time_over_lru: r.timeOverLru,
      time_floor_met: r.timeOverLru <= 0.8,
      time_over_flat: r.timeOverFlat,
      predictor_floor_met: r.timeOverFlat <= 0.9,
    }));
}

function printTable(
  rows: Row[],
  m: {
    source: string;
    L: number;
    E: number;
    k: number;
    expertBytes: number;
    linkGbps: number;
    x: number;
    layerMs: number;
    shards: number;
    preGate: string;
    nextStep: string;
    predictors: { name: string; what: string }[];
    floors: ReturnType<typeof floorChecks>;
    seconds: number;
  },
): void {
  console.log(`cache benchmark on ${m.source}`);
  console.log(
    `L=${m.L} E=${m.E} k=${m.k}; ${m.shards} shard${m.shards > 1 ? "s" : ""}, each one link of ${m.linkGbps} GB/s; an expert is ${(m.expertBytes / 2 ** 20).toFixed(1)} MiB ` +
      `(${m.x.toFixed(2)} ms a load); compute ${m.layerMs} ms per layer-step; pre-gate correction: ${m.preGate}`,
  );
  for (const p of m.predictors) console.log(`  predictor ${p.name}: ${p.what}`);
  console.log(`  next-step prediction (expertflow[predictor]'s eviction): ${m.nextStep}`);
  console.log("  bound: time >= max(S·L·τ, Belady's loads per shard · x), Belady's loads with perfect overlap");
  console.log(
    "  hints at layer j: the predictor's row as a live mesh feeds it (no pre-gate, no next-step; step t's prediction from layer j on, the previous step's before)",
  );
  console.log("  horizon[h]: evicts knowing the exact routing of the current step and h more steps (a reference no causal policy can run)");
  const head = [
    "B",
    "budget",
    "C",
    "policy",
    "ms/token",
    "stalled",
    "loads",
    "GiB moved",
    "wasted",
    "hit %",
    "time/LRU",
    "time/bound",
    "bytes/Belady",
    "time/flat",
  ];
  const widths = [3, 7, 4, 36, 9, 8, 8, 10, 8, 6, 9, 10, 12, 9];
  const line = (cells: string[]) => cells.map((c, i) => (i === 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" ");
  console.log(line(head));
  let last = "";
  for (const r of rows) {
    const key = `${r.batch}/${r.budgetPercent}`;
    if (key !== last) {
      if (last !== "") console.log("");
      console.log(
        line([
          String(r.batch),
          `${r.budgetPercent}%`,
          String(r.capacity),
          "(lower bound)",
          r.boundMsPerToken.toFixed(2),
          "",
          "",
          "",
          "",
          "",
          "",
          "1.00",
          "",
          "",
        ]),
      );
    }
    last = key;
    const ratio = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
    console.log(
      line([
        String(r.batch),
        `${r.budgetPercent}%`,
        String(r.capacity),
        r.label,
        r.msPerToken.toFixed(2),
        `${(100 * r.stallShare).toFixed(0)}%`,
        String(r.loads),
        (r.bytes / 2 ** 30).toFixed(0),
        String(r.wastedPrefetches),
        (100 * r.hitRatio).toFixed(1),
        ratio(r.timeOverLru),
        ratio(r.timeOverBound),
        ratio(r.bytesOverBelady),
        ratio(r.timeOverFlat),
      ]),
    );
  }
  console.log("");
  for (const f of m.floors) {
    const met = (ok: boolean) => (ok ? "meets" : "MISSES");
    console.log(
      `floors, expertflow[${f.predictor}] at 25 %, B=${f.batch}: bytes/Belady ${f.bytes_over_belady.toFixed(3)} (${met(f.bytes_floor_met)} <= 1.3); ` +
        `time/LRU ${f.time_over_lru.toFixed(3)} (${met(f.time_floor_met)} <= 0.8); time/flat ${f.time_over_flat.toFixed(3)} (${met(f.predictor_floor_met)} <= 0.9)`,
    );
  }
  console.log(`(${m.seconds.toFixed(1)} s)`);
}

/** L, E, k (and D, F, dtype when present) of a config.json, read without weights. */
function readShape(file: string, flag: string): Shape {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw fileFlagError(flag, file, e);
  }
  try {
    const c = parseConfig(raw, file);
    return {
      L: c.numLayers,
      E: c.numExperts,
      k: c.topK,
      D: c.hiddenSize,
      F: c.intermediateSize,
      dtype: typeof raw.torch_dtype === "string" ? raw.torch_dtype : undefined,
    };
  } catch (e) {
    throw new UsageError(`${flag} ${file}: ${(e as Error).message}`);
  }
}

function expertBytesFlag(raw: string | undefined, shape: Shape, configFlag: string, configFile: string): number {
  if (raw === undefined) return MIXTRAL_EXPERT_BYTES;
  if (raw.trim() === "config") {
    const bytes = shape.dtype === undefined ? undefined : DTYPE_BYTES[shape.dtype];
    if (bytes === undefined || shape.D === undefined || shape.F === undefined) {
      throw new UsageError(
        `--expert-bytes config: ${configFlag} ${configFile} gives no torch_dtype of known size (${Object.keys(DTYPE_BYTES).join(", ")}), got ${JSON.stringify(shape.dtype ?? null)}; pass a number of bytes`,
      );
    }
    return 3 * shape.D * shape.F * bytes;
  }
  return numberFlag("expert-bytes", raw, 0, (x) => isPositiveInt(x) && x <= 2 ** 40, 'a positive integer of bytes up to 2^40, or "config"');
}

function checkPredictor(file: string, flag: string, trace: RoutingTrace): string {
  if (!existsSync(file)) throw new UsageError(`${flag} ${file}: not found`);
  try {
    const i = readPredictorInfo(readFileSync(file), file);
    if (i.numLayers !== trace.numLayers || i.numExperts !== trace.numExperts) {
      throw new UsageError(
        `${flag} ${file} predicts ${i.numLayers} x ${i.numExperts}, the trace has L=${trace.numLayers} E=${trace.numExperts}`,
      );
    }
    return describePredictor(i);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return "no predictor metadata";
  }
}

function runOnnx(
  file: string,
  flag: string,
  trace: RoutingTrace,
  session: { threads: number; executionProvider: ExecutionProvider },
): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw fileFlagError(flag, file, e);
  }
  return runPredictor(bytes, file, trace, session);
}

/** The pre-gate's choices as per-token 0/1 probabilities [N, L, E], when the model's weights route this trace. */
async function preGateOf(
  v: { model?: string; threads?: string; provider?: string },
  trace: RoutingTrace,
): Promise<{ perToken: Float32Array | undefined; note: string }> {
  const rt = await loadModel(v);
  try {
    const chosen = await preGatePredictions(rt, trace); // [N, L, k]
    const { numLayers: L, numExperts: E, topK: k, tokens: N } = trace;
    const out = new Float32Array(N * L * E);
    for (let n = 0; n < N; n++)
      for (let l = 0; l < L; l++) for (let j = 0; j < k; j++) out[(n * L + l) * E + chosen[(n * L + l) * k + j]] = 1;
    return { perToken: out, note: `layer l's gate on layer l-1's hidden state (${rt.checkpoint.dir}), on the expertflow[predictor] row` };
  } catch (e) {
    return { perToken: undefined, note: `none (${(e as Error).message})` };
  } finally {
    await rt.release();
  }
}

/** The accesses of shard `s` only (keys g with g mod shards = s), for its Belady loads. */
function onlyShard(stream: ReturnType<typeof accessStream>, s: number, shards: number): ReturnType<typeof accessStream> {
  const offsets = new Int32Array(stream.offsets.length);
  const keys: number[] = [];
  for (let i = 0; i + 1 < stream.offsets.length; i++) {
    for (let j = stream.offsets[i]; j < stream.offsets[i + 1]; j++) if (stream.keys[j] % shards === s) keys.push(stream.keys[j]);
    offsets[i + 1] = keys.length;
  }
  return { ...stream, offsets, keys: Int32Array.from(keys) };
}

/** The mean over tokens of predictions [N, LE]: [LE] (for a frequency prior, its one row). */
function meanRow(perToken: Float32Array, LE: number): Float32Array {
  const N = perToken.length / LE;
  const out = new Float32Array(LE);
  for (let n = 0; n < N; n++) for (let i = 0; i < LE; i++) out[i] += perToken[n * LE + i] / N;
  return out;
}

function listFlag(name: string, raw: string | undefined, fallback: number[], check: (v: number) => boolean, rule: string): number[] {
  if (raw === undefined) return fallback;
  return raw.split(",").map((x) => numberFlag(name, x, 0, check, rule));
}
