// Scoring a routing-path predictor against its baselines on the same trace, for `predictor eval` and
// `bench predictor`:
//   frequency prior   the same k experts per layer for every token: --prior FILE.onnx (built from traces of
//                     training text), else the prior of the scored trace itself (in-sample, flattering);
//   previous token    the experts that the previous token of the same sequence used (known one decode step
//                     earlier); a sequence's first token gets the prior's;
//   pre-gate          layer l's gate applied to the input of layer l-1's MoE block (Pre-gated MoE's idea,
//                     packages/model pre-gate.ts); layer 0: layer 0's gate applied to the token's embedding.
//                     It needs the routed model, run over the trace's sequences.
// All are scored by recall@k and decode-batch coverage (packages/moe predictor-metrics.ts).
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer, k experts chosen per
// token.
import { existsSync, readFileSync } from "node:fs";
import {
  createSession,
  int64Tensor,
  preGatePredictions,
  type ExecutionProvider,
  describePredictor,
  PREDICTOR_INPUTS,
  PREDICTOR_OUTPUT,
  readPredictorInfo,
  type PredictorInfo,
} from "@expertmesh/model";
import {
  evaluateChoices,
  evaluatePredictor,
  frequencyPrior,
  previousTokenPredictions,
  type PredictorReport,
  type RoutingTrace,
} from "@expertmesh/moe";
import { UsageError, fileFlagError } from "../args.js";
import { loadModel } from "../model-options.js";

/** Tokens per model run (bounds the size of one output: CHUNK x L x E floats). */
const CHUNK = 4096;

export interface ScoredMethod {
  /** Short name: "predictor", "prior", "previous-token", "pre-gate". */
  readonly name: string;
  readonly description: string;
  readonly report: PredictorReport;
  readonly seconds: number;
}

export interface BaselineOptions {
  readonly batchSizes: readonly number[];
  /** The frequency prior model (.onnx); absent or missing: the in-sample prior of the trace. */
  readonly prior?: string;
  /** The routed model's directory, for the pre-gate baseline; undefined: no pre-gate. */
  readonly modelDir?: string;
  readonly threads: number;
  readonly executionProvider: ExecutionProvider;
  /** The flag that named the predictor file, for errors (default --predictor). */
  readonly flag?: string;
}

/** Reads a predictor model file, with its metadata when it has any. */
export function readPredictorFile(file: string, flag: string): { bytes: Uint8Array; info: PredictorInfo | undefined } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw fileFlagError(flag, file, e);
  }
  try {
    return { bytes, info: readPredictorInfo(bytes, file) };
  } catch {
    return { bytes, info: undefined }; // a model without predictor metadata is still scored, if its signature fits
  }
}

/** The predictor `file` and the three baselines, each scored on `truth`, predictor first. */
export async function scoreWithBaselines(truth: RoutingTrace, file: string, options: BaselineOptions): Promise<ScoredMethod[]> {
  const session = { threads: options.threads, executionProvider: options.executionProvider };
  const { numLayers: L, numExperts: E } = truth;
  const methods: ScoredMethod[] = [];
  const timed = async (name: string, description: string, score: () => Promise<PredictorReport> | PredictorReport) => {
    const t0 = performance.now();
    const report = await score();
    methods.push({ name, description, report, seconds: (performance.now() - t0) / 1000 });
  };

  const predictor = readPredictorFile(file, options.flag ?? "--predictor");
  checkShape(predictor.info, file, truth);
  await timed(
    "predictor",
    `${file}: ${predictor.info === undefined ? "no predictor metadata" : describePredictor(predictor.info)}`,
    async () => evaluatePredictor(truth, await runPredictor(predictor.bytes, file, truth, session), options.batchSizes),
  );

  // The prior's [L, E], from its model (the output for any one token) or from the trace itself.
  let prior: Float32Array;
  let priorDescription: string;
  if (options.prior !== undefined && existsSync(options.prior)) {
    const p = readPredictorFile(options.prior, "--prior");
    checkShape(p.info, options.prior, truth);
    prior = (await runPredictor(p.bytes, options.prior, { ...truth, tokens: 1 }, session)).slice(0, L * E);
    priorDescription = `${options.prior}: ${p.info === undefined ? "no predictor metadata" : describePredictor(p.info)}`;
  } else {
    prior = frequencyPrior([truth]).probabilities;
    priorDescription = `frequency prior of the scored trace itself (in-sample${options.prior === undefined ? "" : `: ${options.prior} not found`})`;
  }
  await timed("prior", priorDescription, () => {
    const all = new Float32Array(truth.tokens * L * E);
    for (let t = 0; t < truth.tokens; t++) all.set(prior, t * L * E);
    return evaluatePredictor(truth, all, options.batchSizes);
  });
  await timed("previous-token", "the experts of the previous token of the same sequence (its first token: the prior's)", () =>
    evaluatePredictor(truth, previousTokenPredictions(truth, prior, 1), options.batchSizes),
  );

  if (options.modelDir !== undefined) {
    const dir = options.modelDir;
    await timed("pre-gate", `${dir}: layer l's gate applied to layer l-1's MoE input (layer 0: to the token embedding)`, async () => {
      const rt = await loadModel({ model: dir, threads: String(options.threads), provider: options.executionProvider });
      try {
        const experts = await preGatePredictions(rt, truth).catch((e: Error) => {
          throw new UsageError(`pre-gate baseline with ${dir}: ${e.message}`);
        });
        return evaluateChoices(truth, { ...truth, experts }, options.batchSizes);
      } finally {
        await rt.release();
      }
    });
  }
  return methods;
}

function checkShape(info: PredictorInfo | undefined, file: string, truth: RoutingTrace): void {
  if (info !== undefined && (info.numLayers !== truth.numLayers || info.numExperts !== truth.numExperts)) {
    throw new UsageError(
      `${file} predicts ${info.numLayers} x ${info.numExperts}, the traces have L=${truth.numLayers} E=${truth.numExperts}`,
    );
  }
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
    if (!s.outputNames.includes(PREDICTOR_OUTPUT))
      throw new UsageError(`--model ${name}: not a predictor model (no output ${PREDICTOR_OUTPUT})`);
    for (let start = 0; start < T; start += CHUNK) {
      const n = Math.min(CHUNK, T - start);
      const ids = BigInt64Array.from(truth.tokenIds.subarray(start, start + n), (x) => BigInt(x));
      const positions = BigInt64Array.from(truth.positions.subarray(start, start + n), (x) => BigInt(x));
      const result = (
        await s.run({ [PREDICTOR_INPUTS.tokenIds]: int64Tensor(ids, [n]), [PREDICTOR_INPUTS.positions]: int64Tensor(positions, [n]) })
      )[PREDICTOR_OUTPUT];
      const dims = result.dims;
      if (result.type !== "float32" || dims.length !== 3 || dims[0] !== n || dims[1] !== L || dims[2] !== E) {
        throw new UsageError(
          `--model ${name}: output is ${result.type} [${dims.join(", ")}], expected float32 [${n}, ${L}, ${E}] for these traces`,
        );
      }
      out.set(result.data as Float32Array, start * L * E);
    }
  } finally {
    await s.release();
  }
  return out;
}
