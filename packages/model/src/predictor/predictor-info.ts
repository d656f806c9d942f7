// What a predictor model is, as its ONNX metadata says: every predictor ExpertMesh serves takes
// token_ids int64 [T] and positions int64 [T] and returns probabilities float32 [T, L, E], and names
// its kind and shape in ModelProto.metadata_props under the keys below, so that the service needs no
// other file.
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer, k experts chosen per
// token.
import { readOnnxMetadata } from "./onnx-metadata.js";

export const PREDICTOR_INPUTS = Object.freeze({ tokenIds: "token_ids", positions: "positions" });
export const PREDICTOR_OUTPUT = "probabilities";

export interface PredictorInfo {
  /** What the predictor is, e.g. "frequency-prior", "mlp". */
  readonly kind: string;
  /** A baseline (a statistic, not trained to predict) rather than a trained predictor. */
  readonly baseline: boolean;
  readonly numLayers: number; // L
  readonly numExperts: number; // E
  /** k of the model whose routing is predicted. */
  readonly topK: number;
  /** Trace tokens the predictor was built or trained from. */
  readonly traceTokens?: number;
  /** Token ids must be below this (a predictor with an embedding); absent: any id. */
  readonly vocabSize?: number;
  /** Where it came from (trace files, training run): free text. */
  readonly source?: string;
}

/** A predictor model that cannot be served: not ONNX, or missing or malformed metadata. */
export class PredictorModelError extends Error {
  override readonly name = "PredictorModelError";
}

/** Metadata keys, in ModelProto.metadata_props. */
const KEYS = {
  kind: "kind",
  baseline: "baseline",
  numLayers: "num_layers",
  numExperts: "num_experts",
  topK: "top_k",
  traceTokens: "trace_tokens",
  vocabSize: "vocab_size",
  source: "source",
} as const satisfies Record<keyof PredictorInfo, string>;

/** The metadata entries that describe `info`. */
export function predictorMetadata(info: PredictorInfo): [string, string][] {
  return Object.entries(KEYS).flatMap(([field, key]) => {
    const value = info[field as keyof PredictorInfo];
    return value === undefined ? [] : [[key, String(value)] as [string, string]];
  });
}

/** Reads and checks the PredictorInfo of the ONNX model `model` (bytes); `name` names it in errors. */
export function readPredictorInfo(model: Uint8Array, name: string): PredictorInfo {
  let meta: Map<string, string>;
  try {
    meta = readOnnxMetadata(model, name);
  } catch (e) {
    throw new PredictorModelError((e as Error).message, { cause: e });
  }
  const text = (key: string): string | undefined => meta.get(key);
  const required = (key: string): string => {
    const value = text(key);
    if (value === undefined || value === "") {
      throw new PredictorModelError(`${name}: predictor metadata ${JSON.stringify(key)} is missing (not an ExpertMesh predictor model?)`);
    }
    return value;
  };
  const int = (key: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new PredictorModelError(
        `${name}: predictor metadata ${JSON.stringify(key)} must be a positive integer, got ${JSON.stringify(value)}`,
      );
    }
    return n;
  };
  const baseline = required(KEYS.baseline);
  if (baseline !== "true" && baseline !== "false") {
    throw new PredictorModelError(`${name}: predictor metadata "baseline" must be true or false, got ${JSON.stringify(baseline)}`);
  }
  const info: PredictorInfo = {
    kind: required(KEYS.kind),
    baseline: baseline === "true",
    numLayers: int(KEYS.numLayers, required(KEYS.numLayers))!,
    numExperts: int(KEYS.numExperts, required(KEYS.numExperts))!,
    topK: int(KEYS.topK, required(KEYS.topK))!,
    traceTokens: int(KEYS.traceTokens, text(KEYS.traceTokens)),
    vocabSize: int(KEYS.vocabSize, text(KEYS.vocabSize)),
    source: text(KEYS.source),
  };
  if (info.topK > info.numExperts)
    throw new PredictorModelError(`${name}: predictor metadata top_k=${info.topK} exceeds num_experts=${info.numExperts}`);
  return Object.freeze(Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined))) as PredictorInfo;
}

/**
 * One line for humans and for InferenceService.ModelInfo.predictor, e.g.
 * "frequency-prior (baseline): (token, position) -> 4 x 16 (top-2), from 60000 trace tokens".
 */
export function describePredictor(info: PredictorInfo): string {
  const from = info.traceTokens === undefined ? "" : `, from ${info.traceTokens} trace tokens`;
  return `${info.kind} (${info.baseline ? "baseline" : "trained"}): (token, position) -> ${info.numLayers} x ${info.numExperts} (top-${info.topK})${from}`;
}
