// expertmesh predictor prior --traces FILE... --out FILE.onnx [--json]
// expertmesh predictor train --traces FILE... --out FILE.onnx [...]   (predictor-train.ts)
// expertmesh predictor next  --traces FILE... --out FILE.onnx [--pseudo-count 2]   (predictor-next.ts)
// expertmesh predictor eval  --model FILE.onnx --traces FILE... [--batch-sizes 1,4,8,16] [--prior FILE.onnx]
//                            [--model-dir DIR] [--no-pre-gate] [--json]
//
// prior: the frequency prior of routing traces (per layer, the share of tokens whose top-k includes each
// expert) as an ONNX predictor model. eval: runs a predictor model over the tokens of traces and scores
// its predictions against their true routing, beside the baselines of predictor-scoring.ts (frequency
// prior, previous token, pre-gate): recall@k and decode-batch coverage per layer (packages/moe
// predictor-metrics.ts says how each is computed). Score on traces of text the model was not trained on.
// --model-dir (default: the bundled model) is the routed model: the pre-gate baseline runs it, and its
// predictor-prior.onnx is the default --prior.
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer, k experts chosen per
// token, B sequences per batch (one token each).
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { BUNDLED_MODEL_DIR, type ExecutionProvider, buildFrequencyPriorModel, describePredictor } from "@expertmesh/model";
import { DEFAULT_BATCH_SIZES, frequencyPrior } from "@expertmesh/moe";
import { isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { nextCommand } from "./predictor-next.js";
import { trainCommand } from "./predictor-train.js";
import { readPredictorFile, scoreWithBaselines, type ScoredMethod } from "./predictor-scoring.js";
import { concatTraces, readTraces, takeList } from "./predictor-traces.js";

export { runPredictor } from "./predictor-scoring.js"; // bench-cache imports it from here

export async function predictorCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === "prior") return priorCommand(rest);
  if (sub === "eval") return evalCommand(rest);
  if (sub === "train") return trainCommand(rest);
  if (sub === "next") return nextCommand(rest);
  throw new UsageError(`predictor: unknown subcommand ${JSON.stringify(sub ?? "")} (expected: prior, train, next, eval)`);
}

async function priorCommand(argv: string[]): Promise<void> {
  const [traceFiles, rest] = takeList(argv, "--traces");
  const v = parseFlags(rest, { out: { type: "string" }, json: { type: "boolean" } });
  if (v.out === undefined) throw new UsageError("--out is required");
  const traces = readTraces(traceFiles);
  const prior = frequencyPrior(traces.map((t) => t.trace));
  const source = traces.map(({ file, trace }) => `${basename(file)}${trace.source ? ` (from ${basename(trace.source)})` : ""}`).join(", ");
  const model = buildFrequencyPriorModel(prior, { source });
  writeFileSync(v.out, model);
  const { numLayers: L, numExperts: E } = prior;
  const rows = Array.from({ length: L }, (_, l) => Array.from(prior.probabilities.subarray(l * E, (l + 1) * E)));
  if (v.json) {
    console.log(
      JSON.stringify({
        out: v.out,
        kind: "frequency-prior",
        baseline: true,
        trace_tokens: prior.tokens,
        num_layers: L,
        num_experts: E,
        top_k: prior.topK,
        traces: traceFiles,
        bytes: model.length,
        prior: rows,
      }),
    );
    return;
  }
  console.log(`${v.out}: frequency prior of ${prior.tokens} tokens from ${traceFiles.length} trace(s), L=${L} E=${E} k=${prior.topK}`);
  for (const [l, row] of rows.entries()) console.log(`  layer ${l}: ${row.map((p) => p.toFixed(3)).join(" ")}`);
}

async function evalCommand(argv: string[]): Promise<void> {
  const [traceFiles, rest] = takeList(argv, "--traces");
  const v = parseFlags(rest, {
    model: { type: "string" },
    "batch-sizes": { type: "string" },
    threads: { type: "string" },
    provider: { type: "string" },
    json: { type: "boolean" },
    prior: { type: "string" },
    "model-dir": { type: "string" },
    "no-pre-gate": { type: "boolean" },
  });
  if (v.model === undefined) throw new UsageError("--model is required (a predictor .onnx file)");
  const batchSizes =
    v["batch-sizes"] === undefined
      ? DEFAULT_BATCH_SIZES
      : v["batch-sizes"]
          .split(",")
          .map((b) => numberFlag("batch-sizes", b, 0, isPositiveInt, "a comma-separated list of positive integers"));
  const threads = numberFlag("threads", v.threads, 1, isPositiveInt, "a positive integer");
  const provider = (v.provider ?? "cpu") as ExecutionProvider;
  if (provider !== "cpu" && provider !== "cuda") throw new UsageError(`--provider must be cpu or cuda, got ${JSON.stringify(provider)}`);
  const modelDir = v["model-dir"] ?? BUNDLED_MODEL_DIR;
  const truth = concatTraces(readTraces(traceFiles));
  const methods = await scoreWithBaselines(truth, v.model, {
    batchSizes,
    threads,
    executionProvider: provider,
    flag: "--model",
    prior: v.prior ?? join(modelDir, "predictor-prior.onnx"),
    modelDir: v["no-pre-gate"] ? undefined : modelDir,
  });
  const [main, ...baselines] = methods;
  if (v.json) {
    const { info } = readPredictorFile(v.model, "--model");
    const scores = (m: ScoredMethod) => ({
      recall_at_k: { per_layer: m.report.recallAtK.perLayer, mean: m.report.recallAtK.mean },
      batch_coverage: m.report.batchCoverage.map((b) => ({ batch: b.batch, batches: b.batches, per_layer: b.perLayer, mean: b.mean })),
      seconds: m.seconds,
    });
    console.log(
      JSON.stringify({
        model: v.model,
        predictor: info === undefined ? null : describePredictor(info),
        traces: traceFiles,
        tokens: main.report.tokens,
        num_layers: main.report.numLayers,
        num_experts: main.report.numExperts,
        top_k: main.report.topK,
        ...scores(main),
        baselines: baselines.map((m) => ({ name: m.name, description: m.description, ...scores(m) })),
      }),
    );
    return;
  }
  console.log(
    `scored on ${main.report.tokens} tokens of ${traceFiles.join(", ")} (L=${main.report.numLayers}, E=${main.report.numExperts}, k=${main.report.topK}); batches are decode steps of B sequences`,
  );
  for (const m of methods) printReport(m);
}

function printReport(m: ScoredMethod): void {
  const { report } = m;
  const L = report.numLayers;
  const cell = (x: number) => (Number.isNaN(x) ? "-" : x.toFixed(3)).padStart(8);
  const label = (s: string) => s.padEnd(16);
  console.log(`\n${m.name}: ${m.description}`);
  console.log(label("") + Array.from({ length: L }, (_, l) => `layer ${l}`.padStart(8)).join("") + "mean".padStart(8));
  console.log(label(`recall@${report.topK}`) + report.recallAtK.perLayer.map(cell).join("") + cell(report.recallAtK.mean));
  for (const b of report.batchCoverage) {
    console.log(label(`coverage B=${b.batch}`) + b.perLayer.map(cell).join("") + cell(b.mean) + `  (${b.batches} batches)`);
  }
}
