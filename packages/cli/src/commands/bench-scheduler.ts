// expertmesh bench scheduler [--model DIR] [--text FILE | --traces FILE] [--max-tokens N] [--batches 4,8,16]
//   [--window-batches M] [--seq-len N] [--seed S] [--predictor FILE.onnx]... [--table-traces FILE]...
//   [--max-windows N] [--exact-every N] [--json]
//
// Route-aware token scheduling, replayed on routing traces of held-out text (packages/moe
// scheduler-simulate.ts): W = M·T requests in flight, each step cut into M batches of at most T (M = 2 by
// default: ExpertFlow's pair of adjacent batches). Figure: distinct experts activated per batch per
// layer (charged with the true routes), for arrival order (the baseline), for Hamming clustering
// (ExpertFlow) and regrouping (local search on the union objective) fed by each route source, and for
// the lower bound (the window's union per layer spread over its M batches). Ratios are against arrival
// order in the same run; the scheduling time per window is measured around the scheduler call.
//
// Route sources: "oracle" (the true routes: what a perfect predictor could give), "previous" (the
// sequence's previous token's routes: what the router uses today), "token-table" (each token id's most
// used experts in --table-traces, read before layer 0 since the next input token is known), and each
// --predictor ONNX file (its top-k per layer; the bundled frequency prior predicts the same for every
// token, so it cannot regroup).
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens per decode step (at most T sequences), M batches per
// window, W = M·T sequences, L MoE layers, E experts, k top-k.
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import {
  BUNDLED_MODEL_DIR,
  createSession,
  int64Tensor,
  type ExecutionProvider,
  PREDICTOR_INPUTS,
  PREDICTOR_OUTPUT,
} from "@expertmesh/model";
import {
  buildTokenTable,
  predictedTopK,
  readTrace,
  simulateScheduling,
  tokenTableTopK,
  type RouteSource,
  type RoutingTrace,
  type SimulationResult,
} from "@expertmesh/moe";
import { isNonNegativeInt, isPositiveInt, numberFlag, parseFlags, UsageError, fileFlagError } from "../args.js";
import { benchTraceFlags, loadBenchTrace } from "./bench-traces.js";
import { progress } from "../progress.js";

const DEFAULT_BATCHES = [4, 8, 16];

export async function benchSchedulerCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...benchTraceFlags,
    batches: { type: "string" },
    "window-batches": { type: "string" },
    "seq-len": { type: "string" },
    seed: { type: "string" },
    predictor: { type: "string", multiple: true },
    "table-traces": { type: "string", multiple: true },
    "max-windows": { type: "string" },
    "exact-every": { type: "string" },
    json: { type: "boolean" },
  });
  const batches =
    v.batches === undefined
      ? DEFAULT_BATCHES
      : v.batches.split(",").map((b) => numberFlag("batches", b, 0, isPositiveInt, "a comma-separated list of positive integers"));
  const M = numberFlag("window-batches", v["window-batches"], 2, (x) => Number.isInteger(x) && x >= 2, "an integer of at least 2");
  const seqLen = numberFlag("seq-len", v["seq-len"], 128, (x) => Number.isInteger(x) && x >= 2, "an integer of at least 2");
  const seed = numberFlag("seed", v.seed, 1, isNonNegativeInt, "a non-negative integer");
  const maxWindows = numberFlag("max-windows", v["max-windows"], Infinity, isPositiveInt, "a positive integer");
  const exactEvery = numberFlag("exact-every", v["exact-every"], 10, isNonNegativeInt, "a non-negative integer (0: never)");
  const modelDir = v.model ?? BUNDLED_MODEL_DIR;

  // The truth: a trace of held-out text (recorded now, bench-traces.ts) or the trace file given.
  const { trace: truth, source } = await loadBenchTrace(v);
  const { numLayers: L, numExperts: E, topK: k } = truth;

  // Requests: the trace's sequences cut into pieces of --seq-len tokens, admitted in a seeded random order.
  const sequences = shuffle(
    truth.sequences.flatMap((s) =>
      Array.from({ length: Math.ceil(s.length / seqLen) }, (_, i) => ({
        start: s.start + i * seqLen,
        length: Math.min(seqLen, s.length - i * seqLen),
      })),
    ),
    seed,
  );

  const sources: RouteSource[] = [
    { name: "oracle", experts: truth.experts, topK: k, lag: 0 },
    { name: "previous", experts: truth.experts, topK: k, lag: 1 },
  ];
  if (v["table-traces"] !== undefined) {
    const table = buildTokenTable(v["table-traces"].map((f) => readTraceFlag("table-traces", f)));
    if (table.numLayers !== L || table.numExperts !== E)
      throw new UsageError(`--table-traces: L=${table.numLayers} E=${table.numExperts}, the truth has L=${L} E=${E}`);
    sources.push({ name: "token-table", experts: tokenTableTopK(table, truth.tokenIds, k), topK: k, lag: 0 });
  }
  const bundledPrior = join(modelDir, "predictor-prior.onnx");
  const predictors = v.predictor ?? (existsSync(bundledPrior) ? [bundledPrior] : []);
  for (const file of predictors) {
    progress.stage(`running the predictor ${file}`);
    const probabilities = await runPredictor(file, truth, v);
    sources.push({ name: basename(file), experts: predictedTopK(probabilities, truth, k).experts, topK: k, lag: 0 });
  }

  const t0 = performance.now();
  const results = batches.map((T) =>
    simulateScheduling(truth, {
      batchSize: T,
      windowBatches: M,
      sequences,
      sources,
      methods: ["hamming", "regroup"],
      maxWindows,
      exactEvery,
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  if (v.json) {
    console.log(
      JSON.stringify({
        benchmark: "scheduler",
        source,
        tokens: truth.tokens,
        requests: sequences.length,
        seq_len: seqLen,
        seed,
        num_layers: L,
        num_experts: E,
        top_k: k,
        window_batches: M,
        figure: "distinct experts activated per batch per layer (true routes); ratio = schedule / arrival order",
        lower_bound: "sum over layers of |union of the window's experts| / (M batches), per batch per layer",
        results: results.map(toJson),
        seconds,
      }),
    );
    return;
  }
  print(source, truth, sequences.length, seqLen, results);
}

/** Probabilities [N, L, E] of the predictor ONNX `file` for the tokens of `truth`. */
async function runPredictor(file: string, truth: RoutingTrace, v: { threads?: string; provider?: string }): Promise<Float32Array> {
  const { tokens: N, numLayers: L, numExperts: E } = truth;
  const threads = numberFlag("threads", v.threads, 1, isPositiveInt, "a positive integer");
  const provider = (v.provider ?? "cpu") as ExecutionProvider;
  let model: Uint8Array;
  try {
    model = readFileSync(file);
  } catch (e) {
    throw fileFlagError("--predictor", file, e);
  }
  const out = new Float32Array(N * L * E);
  const s = await createSession(model, { threads, executionProvider: provider });
  try {
    const chunk = 4096;
    for (let start = 0; start < N; start += chunk) {
      const n = Math.min(chunk, N - start);
      const ids = BigInt64Array.from(truth.tokenIds.subarray(start, start + n), (x) => BigInt(x));
      const positions = BigInt64Array.from(truth.positions.subarray(start, start + n), (x) => BigInt(x));
      const r = (
        await s.run({ [PREDICTOR_INPUTS.tokenIds]: int64Tensor(ids, [n]), [PREDICTOR_INPUTS.positions]: int64Tensor(positions, [n]) })
      )[PREDICTOR_OUTPUT];
      if (!r || r.type !== "float32" || r.dims.join() !== [n, L, E].join()) {
        throw new UsageError(
          `--predictor ${file}: output is not float32 [${n}, ${L}, ${E}] (got ${r ? `${r.type} [${r.dims.join(", ")}]` : "none"})`,
        );
      }
      out.set(r.data as Float32Array, start * L * E);
    }
  } finally {
    await s.release();
  }
  return out;
}

function readTraceFlag(flag: string, file: string): RoutingTrace {
  try {
    return readTrace(file);
  } catch (e) {
    throw fileFlagError(`--${flag}`, file, e);
  }
}

function shuffle<X>(xs: X[], seed: number): X[] {
  let s = seed >>> 0 || 0x9e3779b9;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

function toJson(r: SimulationResult) {
  const fig = (x: { perLayer: number[]; mean: number }) => ({ per_layer: x.perLayer, mean: x.mean });
  return {
    batch: r.batchSize,
    window: r.window,
    batches_per_window: r.windowBatches,
    windows: r.windows,
    arrival: fig(r.arrival),
    lower_bound: { ...fig(r.lowerBound), ratio: r.lowerBound.ratio },
    schedules: r.schedules.map((s) => ({
      source: s.source,
      method: s.method,
      ...fig(s),
      ratio: s.ratio,
      ms_per_window: { cpu_mean: s.ms.cpuMean, wall_mean: s.ms.mean, wall_p50: s.ms.p50, wall_p99: s.ms.p99, wall_max: s.ms.max },
    })),
    exact: r.exact && {
      windows: r.exact.windows,
      arrival: r.exact.arrival,
      optimum: r.exact.optimum,
      regroup_oracle: r.exact.regroupOracle,
    },
  };
}

function print(source: string, truth: RoutingTrace, requests: number, seqLen: number, results: SimulationResult[]): void {
  const L = truth.numLayers;
  const num = (x: number, d = 3) => x.toFixed(d).padStart(8);
  console.log(
    `scheduler: ${source}; replayed as ${requests} requests of up to ${seqLen} tokens (L=${L}, E=${truth.numExperts}, k=${truth.topK})`,
  );
  console.log(
    "figure: distinct experts activated per batch per layer, charged with the true routes; ratio: against arrival order (lower is better)",
  );
  console.log("lower bound: Σ_l |union of the window's experts at l| / M (the window's experts, each run by one batch only)");
  for (const r of results) {
    console.log(`\nT=${r.batchSize}: windows of W=${r.window} sequences in ${r.windowBatches} batches, ${r.windows} windows`);
    console.log(
      "".padEnd(40) +
        Array.from({ length: L }, (_, l) => `layer ${l}`.padStart(8)).join("") +
        "mean".padStart(8) +
        "ratio".padStart(8) +
        "   ms/window: cpu mean; wall p50, p99",
    );
    const row = (label: string, x: { perLayer: number[]; mean: number }, ratio: number, ms = "") =>
      console.log(label.padEnd(40) + x.perLayer.map((p) => num(p)).join("") + num(x.mean) + num(ratio) + ms);
    row("arrival order", r.arrival, 1);
    for (const s of r.schedules)
      row(`${s.source}: ${s.method}`, s, s.ratio, `   ${s.ms.cpuMean.toFixed(3)}; ${s.ms.p50.toFixed(3)}, ${s.ms.p99.toFixed(3)}`);
    row("lower bound", r.lowerBound, r.lowerBound.ratio);
    if (r.exact) {
      const e = r.exact;
      const rg =
        e.regroupOracle === null ? "" : `, oracle regroup ${e.regroupOracle.toFixed(3)} (${(e.regroupOracle / e.arrival).toFixed(3)})`;
      console.log(
        `exact optimum on ${e.windows} windows (true routes): ${e.optimum.toFixed(3)} (${(e.optimum / e.arrival).toFixed(3)} of arrival ${e.arrival.toFixed(3)})${rg}`,
      );
    }
  }
}
