// expertmesh predictor prior --traces FILE... --out FILE.onnx [--json]
// expertmesh predictor eval  --model FILE.onnx --traces FILE... [--batch-sizes 1,4,8,16] [--json]
//
// prior: the frequency prior of routing traces (per layer, the share of tokens whose top-k includes each
// expert) as an ONNX predictor model. eval: runs a predictor model over the tokens of traces and scores
// its predictions against their true routing: recall@k and batch coverage per layer (packages/moe
// predictor-metrics.ts says how each is computed). Score on traces of text the model was not trained on.
//
// Letters: T tokens, L MoE layers, E experts per layer, k experts chosen per token, B tokens per batch.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { createSession, int64Tensor, type ExecutionProvider } from "@expertmesh/model";
import { DEFAULT_BATCH_SIZES, evaluatePredictor, frequencyPrior, readTrace, type PredictorReport, type RoutingTrace } from "@expertmesh/moe";
import {
  buildFrequencyPriorModel,
  describePredictor,
  PREDICTOR_INPUTS,
  PREDICTOR_OUTPUT,
  readPredictorInfo,
  type PredictorInfo,
} from "@expertmesh/predictor/model";
import { isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";

/** Tokens per model run in eval (bounds the size of one output: CHUNK x L x E floats). */
const CHUNK = 4096;

export async function predictorCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === "prior") return priorCommand(rest);
  if (sub === "eval") return evalCommand(rest);
  throw new UsageError(`predictor: unknown subcommand ${JSON.stringify(sub ?? "")} (expected: prior, eval)`);
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
    console.log(JSON.stringify({
      out: v.out, kind: "frequency-prior", baseline: true, trace_tokens: prior.tokens, num_layers: L, num_experts: E, top_k: prior.topK,
      traces: traceFiles, bytes: model.length, prior: rows,
    }));
    return;
  }
  console.log(`${v.out}: frequency prior of ${prior.tokens} tokens from ${traceFiles.length} trace(s), L=${L} E=${E} k=${prior.topK}`);
  for (const [l, row] of rows.entries()) console.log(`  layer ${l}: ${row.map((p) => p.toFixed(3)).join(" ")}`);
}

async function evalCommand(argv: string[]): Promise<void> {
  const [traceFiles, rest] = takeList(argv, "--traces");
  const v = parseFlags(rest, {
    model: { type: "string" }, "batch-sizes": { type: "string" }, threads: { type: "string" }, provider: { type: "string" }, json: { type: "boolean" },
  });
  if (v.model === undefined) throw new UsageError("--model is required (a predictor .onnx file)");
  const batchSizes = v["batch-sizes"] === undefined
    ? DEFAULT_BATCH_SIZES
    : v["batch-sizes"].split(",").map((b) => numberFlag("batch-sizes", b, 0, isPositiveInt, "a comma-separated list of positive integers"));
  const threads = numberFlag("threads", v.threads, 1, isPositiveInt, "a positive integer");
  const provider = (v.provider ?? "cpu") as ExecutionProvider;
  if (provider !== "cpu" && provider !== "cuda") throw new UsageError(`--provider must be cpu or cuda, got ${JSON.stringify(provider)}`);
  const traces = readTraces(traceFiles);
  const truth = concatTraces(traces);
  let model: Uint8Array;
  try {
    model = readFileSync(v.model);
  } catch (e) {
    throw new UsageError(`--model ${v.model}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (e as Error).message}`);
  }
  let info: PredictorInfo | undefined;
  try {
    info = readPredictorInfo(model, v.model);
  } catch {
    info = undefined; // a model without predictor metadata is still scored, if its signature fits
  }
  if (info !== undefined && (info.numLayers !== truth.numLayers || info.numExperts !== truth.numExperts)) {
    throw new UsageError(
      `--model ${v.model} predicts ${info.numLayers} x ${info.numExperts}, the traces have L=${truth.numLayers} E=${truth.numExperts}`,
    );
  }
  const t0 = performance.now();
  const probabilities = await runPredictor(model, v.model, truth, { threads, executionProvider: provider });
  const seconds = (performance.now() - t0) / 1000;
  const report = evaluatePredictor(truth, probabilities, batchSizes);
  if (v.json) {
    console.log(JSON.stringify({
      model: v.model, predictor: info === undefined ? null : describePredictor(info), traces: traceFiles,
      tokens: report.tokens, num_layers: report.numLayers, num_experts: report.numExperts, top_k: report.topK,
      recall_at_k: { per_layer: report.recallAtK.perLayer, mean: report.recallAtK.mean },
      batch_coverage: report.batchCoverage.map((b) => ({ batch: b.batch, batches: b.batches, per_layer: b.perLayer, mean: b.mean })),
      seconds,
    }));
    return;
  }
  printReport(v.model, info, traceFiles, report);
}

/** Probabilities [T, L, E] of the predictor `model` for the tokens of `truth`, CHUNK tokens per run. */
export async function runPredictor(
  model: Uint8Array,
  name: string,
  truth: RoutingTrace,
  session: { threads: number; executionProvider: ExecutionProvider },
): Promise<Float32Array> {
  const { tokens: T, numLayers: L, numExperts: E } = truth;
  const out = new Float32Array(T * L * E); // [T, L, E]
  const s = await createSession(model, session);
  try {
    for (const input of [PREDICTOR_INPUTS.tokenIds, PREDICTOR_INPUTS.positions]) {
      if (!s.inputNames.includes(input)) throw new UsageError(`--model ${name}: not a predictor model (no input ${input})`);
    }
    if (!s.outputNames.includes(PREDICTOR_OUTPUT)) throw new UsageError(`--model ${name}: not a predictor model (no output ${PREDICTOR_OUTPUT})`);
    for (let start = 0; start < T; start += CHUNK) {
      const n = Math.min(CHUNK, T - start);
      const ids = BigInt64Array.from(truth.tokenIds.subarray(start, start + n), (x) => BigInt(x));
      const positions = BigInt64Array.from(truth.positions.subarray(start, start + n), (x) => BigInt(x));
      const result = (await s.run({ [PREDICTOR_INPUTS.tokenIds]: int64Tensor(ids, [n]), [PREDICTOR_INPUTS.positions]: int64Tensor(positions, [n]) }))[PREDICTOR_OUTPUT];
      const dims = result.dims;
      if (result.type !== "float32" || dims.length !== 3 || dims[0] !== n || dims[1] !== L || dims[2] !== E) {
        throw new UsageError(`--model ${name}: output is ${result.type} [${dims.join(", ")}], expected float32 [${n}, ${L}, ${E}] for these traces`);
      }
      out.set(result.data as Float32Array, start * L * E);
    }
  } finally {
    await s.release();
  }
  return out;
}

function printReport(model: string, info: PredictorInfo | undefined, traceFiles: string[], report: PredictorReport): void {
  const L = report.numLayers;
  const cell = (x: number) => (Number.isNaN(x) ? "-" : x.toFixed(3)).padStart(8);
  const label = (s: string) => s.padEnd(16);
  console.log(`${model}: ${info === undefined ? "no predictor metadata" : describePredictor(info)}`);
  console.log(`scored on ${report.tokens} tokens of ${traceFiles.join(", ")} (L=${L}, E=${report.numExperts}, k=${report.topK})`);
  console.log(label("") + Array.from({ length: L }, (_, l) => `layer ${l}`.padStart(8)).join("") + "mean".padStart(8));
  console.log(label(`recall@${report.topK}`) + report.recallAtK.perLayer.map(cell).join("") + cell(report.recallAtK.mean));
  for (const b of report.batchCoverage) {
    console.log(label(`coverage B=${b.batch}`) + b.perLayer.map(cell).join("") + cell(b.mean) + `  (${b.batches} batches)`);
  }
}

/** Removes `flag` and the values that follow it (up to the next flag) from argv: [values, the rest]. */
function takeList(argv: string[], flag: string): [string[], string[]] {
  const values: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === flag) {
      while (i + 1 < argv.length && !argv[i + 1].startsWith("--")) values.push(argv[++i]);
    } else if (arg.startsWith(`${flag}=`)) {
      values.push(arg.slice(flag.length + 1));
    } else {
      rest.push(arg);
    }
  }
  if (values.length === 0) throw new UsageError(`${flag} is required (one or more routing trace files)`);
  return [values, rest];
}

/** Reads the traces, which must agree on L, E and k. */
function readTraces(files: string[]): { file: string; trace: RoutingTrace }[] {
  const traces = files.map((file) => {
    try {
      return { file, trace: readTrace(file) };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(code === "ENOENT" ? `--traces ${file}: not found` : (e as Error).message);
    }
  });
  const [first] = traces;
  const { numLayers: L, numExperts: E, topK: k } = first.trace;
  for (const { file, trace } of traces) {
    if (trace.numLayers !== L || trace.numExperts !== E || trace.topK !== k) {
      throw new UsageError(`--traces ${file}: L=${trace.numLayers} E=${trace.numExperts} k=${trace.topK}, but ${first.file} has L=${L} E=${E} k=${k}`);
    }
  }
  return traces;
}

/** The traces (read by readTraces) laid end to end as one. */
function concatTraces(traces: { file: string; trace: RoutingTrace }[]): RoutingTrace {
  const [first] = traces;
  const { numLayers: L, numExperts: E, topK: k } = first.trace;
  if (traces.length === 1) return first.trace;
  const concat = <A extends Int32Array | Uint16Array | Float32Array>(make: (n: number) => A, pick: (t: RoutingTrace) => A): A => {
    const out = make(traces.reduce((n, { trace }) => n + pick(trace).length, 0));
    let o = 0;
    for (const { trace } of traces) {
      out.set(pick(trace) as never, o);
      o += pick(trace).length;
    }
    return out;
  };
  let start = 0;
  const sequences = traces.flatMap(({ trace }) => {
    const shifted = trace.sequences.map((s) => ({ start: s.start + start, length: s.length }));
    start += trace.tokens;
    return shifted;
  });
  return {
    numLayers: L, numExperts: E, topK: k, tokens: start, sequences,
    tokenIds: concat((n) => new Int32Array(n), (t) => t.tokenIds),
    positions: concat((n) => new Int32Array(n), (t) => t.positions),
    experts: concat((n) => new Uint16Array(n), (t) => t.experts),
    weights: concat((n) => new Float32Array(n), (t) => t.weights),
  };
}
