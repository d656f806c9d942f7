// expertmesh bench predictor [--model DIR] [--traces FILE | --text FILE] [--max-tokens N] [--predictor FILE.onnx]
//   [--prior FILE.onnx] [--batch-sizes 1,4,8,16] [--no-pre-gate] [--no-latency] [--json]
//
// The routing-path predictor against its baselines on held-out text (a trace recorded here by the model
// over text it was not trained on, bench-traces.ts, or --traces): recall@k and decode-batch coverage at
// each batch size, per layer and mean, for the predictor (default: the model directory's predictor.onnx),
// the frequency prior (default: its predictor-prior.onnx), "same experts as the previous token" and the
// gate of the previous layer applied ahead (predictor-scoring.ts). Ratios: predictor / baseline, measured
// in the same run on the same tokens. Then the predictor's latency for B tokens against one decode step of
// B sequences of the model (bench-predictor-latency.ts; --no-latency skips it).
import { join } from "node:path";
import { BUNDLED_MODEL_DIR, type ExecutionProvider } from "@expertmesh/model";
import { DEFAULT_BATCH_SIZES } from "@expertmesh/moe";
import { isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { benchTraceFlags, loadBenchTrace } from "./bench-traces.js";
import { measureLatency } from "./bench-predictor-latency.js";
import { readPredictorFile, scoreWithBaselines, type ScoredMethod } from "./predictor-scoring.js";
import { progress } from "../progress.js";

export async function benchPredictorCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    ...benchTraceFlags,
    predictor: { type: "string" },
    prior: { type: "string" },
    "batch-sizes": { type: "string" },
    "no-pre-gate": { type: "boolean" },
    "no-latency": { type: "boolean" },
    json: { type: "boolean" },
  });
  const batchSizes =
    v["batch-sizes"] === undefined
      ? DEFAULT_BATCH_SIZES
      : v["batch-sizes"]
          .split(",")
          .map((b) => numberFlag("batch-sizes", b, 0, isPositiveInt, "a comma-separated list of positive integers"));
  const threads = numberFlag("threads", v.threads, 1, isPositiveInt, "a positive integer");
  const provider = (v.provider ?? "cpu") as ExecutionProvider;
  if (provider !== "cpu" && provider !== "cuda") throw new UsageError(`--provider must be cpu or cuda, got ${JSON.stringify(provider)}`);
  const modelDir = v.model ?? BUNDLED_MODEL_DIR;
  const predictor = v.predictor ?? join(modelDir, "predictor.onnx");

  const { trace, source } = await loadBenchTrace(v);
  progress.stage("scoring the predictor and its baselines");
  const [main, ...baselines] = await scoreWithBaselines(trace, predictor, {
    batchSizes,
    threads,
    executionProvider: provider,
    prior: v.prior ?? join(modelDir, "predictor-prior.onnx"),
    modelDir: v["no-pre-gate"] ? undefined : modelDir,
  });
  const ratios = baselines.map((b) => ({
    baseline: b.name,
    recall_at_k: main.report.recallAtK.mean / b.report.recallAtK.mean,
    batch_coverage: Object.fromEntries(main.report.batchCoverage.map((c, i) => [c.batch, c.mean / b.report.batchCoverage[i].mean])),
  }));
  progress.stage("measuring the predictor's latency");
  const latency = v["no-latency"]
    ? []
    : await measureLatency(readPredictorFile(predictor, "--predictor").bytes, modelDir, batchSizes, {
        threads,
        executionProvider: provider,
      });
  const aboveEvery = ratios.every((r) => Object.values(r.batch_coverage).every((x) => x > 1));
  const { topK: k, numLayers: L } = trace;

  if (v.json) {
    const scores = (m: ScoredMethod) => ({
      name: m.name,
      description: m.description,
      seconds: m.seconds,
      recall_at_k: { per_layer: m.report.recallAtK.perLayer, mean: m.report.recallAtK.mean },
      batch_coverage: m.report.batchCoverage.map((b) => ({ batch: b.batch, batches: b.batches, per_layer: b.perLayer, mean: b.mean })),
    });
    console.log(
      JSON.stringify({
        trace: source,
        tokens: trace.tokens,
        num_layers: L,
        num_experts: trace.numExperts,
        top_k: k,
        figure: "recall@k and batch coverage (decode batches of B sequences); ratio = predictor / baseline (higher is better)",
        predictor: scores(main),
        baselines: baselines.map(scores),
        ratios,
        coverage_above_every_baseline: aboveEvery,
        latency: latency.map((x) => ({ batch: x.batch, predictor_ms: x.predictorMs, decode_step_ms: x.stepMs, ratio: x.ratio })),
      }),
    );
    return;
  }
  const num = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "-").padStart(9);
  console.log(`predictor: ${source} (L=${L}, E=${trace.numExperts}, k=${k}); batches are decode steps of B sequences`);
  for (const m of [main, ...baselines]) console.log(`  ${m.name}: ${m.description}`);
  const head = `recall@${k}`.padStart(9) + batchSizes.map((b) => `cov B=${b}`.padStart(9)).join("");
  console.log("\nmeans over layers".padEnd(17) + head);
  for (const m of [main, ...baselines]) {
    console.log(m.name.padEnd(16) + num(m.report.recallAtK.mean) + m.report.batchCoverage.map((c) => num(c.mean)).join(""));
  }
  console.log("\nratio predictor/".padEnd(17) + head);
  for (const r of ratios)
    console.log(r.baseline.padEnd(16) + num(r.recall_at_k) + batchSizes.map((b) => num(r.batch_coverage[b])).join(""));
  console.log(`\nbatch coverage above every baseline at every batch size: ${aboveEvery ? "yes" : "NO"}`);
  if (latency.length > 0) {
    console.log("\nlatency: median of one predictor run for B tokens and of one decode step of B sequences, in process");
    console.log("".padEnd(16) + "predictor ms".padStart(14) + "step ms".padStart(16) + "ratio".padStart(7));
    for (const x of latency)
      console.log(
        `B=${x.batch}`.padEnd(17) +
          x.predictorMs.toFixed(3).padStart(14) +
          x.stepMs.toFixed(2).padStart(16) +
          x.ratio.toFixed(4).padStart(7),
      );
  }
}
