// The frequency prior as an ONNX predictor model (the baseline until a trained predictor exists):
// the prior [L, E] broadcast to every token, behind the signature that every predictor shares.
//
//   token_ids int64 [T], positions int64 [T]  ->  probabilities float32 [T, L, E]
//
// positions is part of the signature and unused here.
import { GraphBuilder } from "../onnx/graph-builder.js";
import type { FrequencyPrior } from "@expertmesh/moe";
import { PREDICTOR_INPUTS, PREDICTOR_OUTPUT, predictorMetadata, type PredictorInfo } from "./predictor-info.js";

export const FREQUENCY_PRIOR_KIND = "frequency-prior";

/** The ONNX model (bytes) of `prior`; `source` (e.g. the trace files) is stored in its metadata. */
export function buildFrequencyPriorModel(prior: FrequencyPrior, options: { source?: string } = {}): Uint8Array {
  const { numLayers: L, numExperts: E } = prior;
  if (prior.probabilities.length !== L * E) throw new RangeError(`prior: ${prior.probabilities.length} values, expected L*E = ${L}*${E}`);
  const g = new GraphBuilder("frequency_prior");
  const tokenIds = g.input(PREDICTOR_INPUTS.tokenIds, "int64", ["T"]);
  g.input(PREDICTOR_INPUTS.positions, "int64", ["T"]);
  const table = g.initializer("prior", prior.probabilities, [1, L, E]); // [1, L, E]
  const shape = g.op("Concat", [g.op("Shape", [tokenIds]), g.ints([L, E])], { axis: 0 }); // [T, L, E] as a shape
  g.output(g.op("Expand", [table, shape]), PREDICTOR_OUTPUT, "float32", ["T", L, E]);
  const info: PredictorInfo = {
    kind: FREQUENCY_PRIOR_KIND,
    baseline: true,
    numLayers: L,
    numExperts: E,
    topK: prior.topK,
    traceTokens: prior.tokens,
    ...(options.source === undefined ? {} : { source: options.source }),
  };
  for (const [key, value] of predictorMetadata(info)) g.metadata(key, value);
  return g.build();
}
