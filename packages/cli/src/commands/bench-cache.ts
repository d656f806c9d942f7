// expertmesh bench cache [--model DIR] [--traces FILE | --text FILE] [--max-tokens N] [--predictor FILE.onnx]
//                        [--prior FILE.onnx] [--budgets 12.5,25,50] [--batches 1,4,16] [--link P] [--json]
//
// The device-tier cache on routing traces of held-out text, in decode order (packages/moe cache-access.ts),
// for every budget (percent of the L*E experts) and batch size. Per policy: hit ratio, stalls (compute
// waited), loads and bytes moved host→device, wasted prefetches. Baselines in the same run: LRU on demand
// and Belady's MIN (offline, the limit for loads). The predictive policy (expertflow) runs on each
// predictor: the --predictor ONNX model (default: the model's trained predictor.onnx, else its prior),
// the oracle-free "previous token + prior" (the prior: --prior, default the model's predictor-prior.onnx),
// and, labelled as a reference only, the true routing (oracle).
// "lru+prefetch" is LRU eviction with the same prefetches as expertflow on previous token + prior.
//
// Letters: N tokens, L MoE layers, E experts per layer, B batch, C slots, P link budget (loads per window).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_MODEL_DIR, Checkpoint, type ExecutionProvider, describePredictor, readPredictorInfo } from "@expertmesh/model";
import {
  accessStream,
  batchDemand,
  BeladyPolicy,
  decodeSchedule,
  ExpertflowPolicy,
  LruPolicy,
  oraclePredictions,
  previousTokenPredictions,
  simulateCache,
  type CachePolicy,
  type SimResult,
} from "@expertmesh/moe";
import { isNonNegativeInt, isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { benchTraceFlags, loadBenchTrace } from "./bench-traces.js";
import { runPredictor } from "./predictor.js";

const DEFAULT_BUDGETS = [12.5, 25, 50];
const DEFAULT_BATCHES = [1, 4, 16];
const DEFAULT_LINK = 2;

/** ExpertFlow (arXiv 2410.17954), Switch-32 with 16 cache slots, as the paper reports it: context only. */
const PUBLISHED = {
  source: "ExpertFlow (arXiv 2410.17954), Switch-32, 16 cache slots",
  rows: [
    { batch: 4, expertflow: 0.919, lru: 0.766 },
    { batch: 16, expertflow: 0.859, lru: 0.584 },
  ],
};

interface Row extends SimResult {
  batch: number;
  budgetPercent: number;
  label: string;
  predictor: string | null;
  hitOverLru: number;
  hitOverBelady: number;
  loadsOverBelady: number;
}

export async function benchCacheCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...benchTraceFlags, predictor: { type: "string" }, prior: { type: "string" }, budgets: { type: "string" }, batches: { type: "string" }, link: { type: "string" }, json: { type: "boolean" },
  });
  const budgets = listFlag("budgets", v.budgets, DEFAULT_BUDGETS, (x) => x > 0 && x <= 100, "a comma-separated list of percentages in (0, 100]");
  const batches = listFlag("batches", v.batches, DEFAULT_BATCHES, isPositiveInt, "a comma-separated list of positive integers");
  const link = numberFlag("link", v.link, DEFAULT_LINK, isNonNegativeInt, "a non-negative integer (loads per layer-step)");
  const modelDir = v.model ?? BUNDLED_MODEL_DIR;
  const predictorFile = v.predictor ?? (existsSync(join(modelDir, "predictor.onnx")) ? join(modelDir, "predictor.onnx") : join(modelDir, "predictor-prior.onnx"));
  if (!existsSync(predictorFile)) throw new UsageError(`--predictor ${predictorFile}: not found`);
  const t0 = performance.now();
  const { trace, source } = await loadBenchTrace(v);
  const { numLayers: L, numExperts: E } = trace;
  const expertBytes = Checkpoint.open(modelDir).expertBytes();

  // Predictions [N, L, E] from each predictor.
  const onnx = readFileSync(predictorFile);
  let info: string;
  try {
    const i = readPredictorInfo(onnx, predictorFile);
    if (i.numLayers !== L || i.numExperts !== E) throw new UsageError(`--predictor ${predictorFile} predicts ${i.numLayers} x ${i.numExperts}, the trace has L=${L} E=${E}`);
    info = describePredictor(i);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    info = "no predictor metadata";
  }
  const session = { threads: numberFlag("threads", v.threads, 1, isPositiveInt, "a positive integer"), executionProvider: (v.provider ?? "cpu") as ExecutionProvider };
  const fromOnnx = await runPredictor(onnx, predictorFile, trace, session);
  const priorFile = v.prior ?? join(modelDir, "predictor-prior.onnx");
  if (!existsSync(priorFile)) throw new UsageError(`--prior ${priorFile}: not found`);
  const prior = meanRow(priorFile === predictorFile ? fromOnnx : await runPredictor(readFileSync(priorFile), priorFile, trace, session), L * E);
  const onnxName = predictorFile === priorFile ? "prior" : "predictor";
  const predictors: { name: string; what: string; perToken: Float32Array }[] = [
    { name: onnxName, what: `${predictorFile}: ${info}`, perToken: fromOnnx },
    { name: "prev+prior", what: `previous token's experts (weight 0.5) + the prior of ${priorFile}, oracle-free`, perToken: previousTokenPredictions(trace, prior) },
    { name: "oracle", what: "the true routing (a reference for the policy's limit, not a predictor)", perToken: oraclePredictions(trace) },
  ];

  const rows: Row[] = [];
  for (const batch of batches) {
    const schedule = decodeSchedule(trace, batch);
    const stream = accessStream(trace, schedule);
    const demand = new Map(predictors.map((p) => [p.name, batchDemand(p.perToken, schedule, trace)]));
    for (const budgetPercent of budgets) {
      const capacity = Math.max(1, Math.round((budgetPercent / 100) * L * E));
      const run = (label: string, policy: CachePolicy, predictor: string | null) => {
        const r = simulateCache(stream, policy, { capacity, expertBytes, linkBudget: predictor === null ? 0 : link, demand: predictor === null ? undefined : demand.get(predictor) });
        return { ...r, batch, budgetPercent, label, predictor, hitOverLru: NaN, hitOverBelady: NaN, loadsOverBelady: NaN };
      };
      const ef = (eviction: "predicted" | "lru") => new ExpertflowPolicy({ numLayers: L, numExperts: E, capacity, eviction });
      const group = [
        run("lru", new LruPolicy(), null),
        run("lru+prefetch[prev+prior]", ef("lru"), "prev+prior"),
        ...predictors.map((p) => run(`expertflow[${p.name}]`, ef("predicted"), p.name)),
        run("belady", new BeladyPolicy(stream), null),
      ];
      const [lru] = group;
      const belady = group[group.length - 1];
      for (const r of group) {
        r.hitOverLru = r.hitRatio / lru.hitRatio;
        r.hitOverBelady = r.hitRatio / belady.hitRatio;
        r.loadsOverBelady = r.loads / belady.loads;
      }
      rows.push(...group);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const floors = floorChecks(rows, onnxName);
  if (v.json) {
    console.log(JSON.stringify({
      source, tokens: trace.tokens, num_layers: L, num_experts: E, top_k: trace.topK, expert_bytes: expertBytes, link_budget: link,
      predictors: predictors.map(({ name, what }) => ({ name, what })),
      rows: rows.map((r) => ({
        batch: r.batch, budget_percent: r.budgetPercent, capacity: r.capacity, policy: r.label, predictor: r.predictor,
        accesses: r.accesses, hit_ratio: r.hitRatio, stalls: r.stalls, loads: r.loads, demand_loads: r.demandLoads, prefetch_loads: r.prefetchLoads,
        wasted_prefetches: r.wastedPrefetches, bytes: r.bytes, hit_ratio_over_lru: r.hitOverLru, hit_ratio_over_belady: r.hitOverBelady, loads_over_belady: r.loadsOverBelady,
      })),
      floors, published: PUBLISHED, seconds,
    }));
    return;
  }
  printTable(rows, { source, L, E, k: trace.topK, expertBytes, link, predictors, floors, seconds });
}

/** The floors: expertflow above LRU everywhere, and at least 90 % of Belady's hit ratio at 25 %. */
function floorChecks(rows: Row[], onnxName: string) {
  return ["prev+prior", onnxName].map((predictor) => {
    const ef = rows.filter((r) => r.label === `expertflow[${predictor}]`);
    const aboveLru = ef.every((r) => r.hitOverLru > 1);
    const at25 = ef.filter((r) => r.budgetPercent === 25);
    const minOverBelady25 = at25.length === 0 ? NaN : Math.min(...at25.map((r) => r.hitOverBelady));
    return { predictor, above_lru_everywhere: aboveLru, min_hit_over_belady_at_25: minOverBelady25, belady_floor_met: minOverBelady25 >= 0.9 };
  });
}

function printTable(
  rows: Row[],
  m: { source: string; L: number; E: number; k: number; expertBytes: number; link: number; predictors: { name: string; what: string }[]; floors: ReturnType<typeof floorChecks>; seconds: number },
): void {
  console.log(`cache benchmark on ${m.source}`);
  console.log(`L=${m.L} E=${m.E} k=${m.k}, ${m.L * m.E} experts of ${(m.expertBytes / 1024).toFixed(0)} KiB; link budget P=${m.link} loads per layer-step (prefetching policies only)`);
  for (const p of m.predictors) console.log(`  predictor ${p.name}: ${p.what}`);
  const head = ["B", "budget", "C", "policy", "hit %", "stalls", "loads", "MiB moved", "wasted", "hit/LRU", "hit/Belady", "loads/Belady"];
  const widths = [3, 7, 4, 26, 7, 9, 9, 10, 8, 8, 10, 12];
  const line = (cells: string[]) => cells.map((c, i) => (i === 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" ");
  console.log(line(head));
  let last = "";
  for (const r of rows) {
    const key = `${r.batch}/${r.budgetPercent}`;
    if (key !== last && last !== "") console.log("");
    last = key;
    const ratio = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : x > 0 ? "inf" : "-");
    console.log(line([
      String(r.batch), `${r.budgetPercent}%`, String(r.capacity), r.label, (100 * r.hitRatio).toFixed(1), String(r.stalls), String(r.loads),
      (r.bytes / 2 ** 20).toFixed(1), String(r.wastedPrefetches), ratio(r.hitOverLru), ratio(r.hitOverBelady), ratio(r.loadsOverBelady),
    ]));
  }
  console.log("");
  for (const f of m.floors) {
    console.log(`floors, expertflow[${f.predictor}]: hit ratio above LRU at every budget and batch: ${f.above_lru_everywhere ? "yes" : "NO"}; ` +
      `min hit/Belady at 25 %: ${f.min_hit_over_belady_at_25.toFixed(3)} (${f.belady_floor_met ? "meets" : "BELOW"} 0.90)`);
  }
  console.log(`published, for context (another model and trace): ${PUBLISHED.source}: ` +
    PUBLISHED.rows.map((r) => `B=${r.batch} expertflow ${(100 * r.expertflow).toFixed(1)} % vs LRU ${(100 * r.lru).toFixed(1)} %`).join("; "));
  console.log(`(${m.seconds.toFixed(1)} s)`);
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
