// The next-step table (packages/moe predictor-next.ts) as an ONNX predictor model. It has the signature
// every predictor shares, but row t of its output is the predicted routing of the token AFTER token t
// (metadata predicts=next-step; kind next-step-table), for the eviction of experts whose next use is in
// the next decode step:
//
//   token_ids int64 [T], positions int64 [T]  ->  probabilities float32 [T, L, E]
//
//   row = token_ids where 0 <= token_ids < V, else V (the prior row)
//   probabilities = Gather(table [V + 1, L, E], row)
//
// positions is part of the signature and unused here.
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, V token ids in the table, L MoE layers, E experts per layer.
import { GraphBuilder } from "../onnx/graph-builder.js";
import type { NextStepTable } from "@expertmesh/moe";
import { PREDICTOR_INPUTS, PREDICTOR_OUTPUT, predictorMetadata, type PredictorInfo } from "./predictor-info.js";

export const NEXT_STEP_KIND = "next-step-table";
/** Metadata key and value that mark a predictor of the next step's routing. */
export const PREDICTS_KEY = "predicts";
export const PREDICTS_NEXT_STEP = "next-step";

/** The ONNX model (bytes) of `table`; `source` (the training traces) goes into its metadata. */
export function buildNextStepModel(table: NextStepTable, options: { source?: string; pseudo?: number } = {}): Uint8Array {
  const { numLayers: L, numExperts: E, vocab: V } = table;
  if (table.probabilities.length !== (V + 1) * L * E)
    throw new RangeError(`next-step table: ${table.probabilities.length} values, expected (V+1)*L*E = ${V + 1}*${L}*${E}`);
  const g = new GraphBuilder("next_step_table");
  const tokenIds = g.input(PREDICTOR_INPUTS.tokenIds, "int64", ["T"]);
  g.input(PREDICTOR_INPUTS.positions, "int64", ["T"]);
  const priorRow = g.ints([V], "prior_row");
  const outside = g.op("Or", [g.op("Less", [tokenIds, g.ints([0], "zero")]), g.op("Greater", [tokenIds, g.ints([V - 1], "last_id")])]);
  const row = g.op("Where", [outside, priorRow, tokenIds]);
  const probs = g.op("Gather", [g.initializer("next_step", table.probabilities, [V + 1, L, E]), row], { axis: 0 }); // [T, L, E]
  g.output(probs, PREDICTOR_OUTPUT, "float32", ["T", L, E]);
  const info: PredictorInfo = {
    kind: NEXT_STEP_KIND,
    baseline: false,
    numLayers: L,
    numExperts: E,
    topK: table.topK,
    traceTokens: table.pairs,
    ...(options.source === undefined ? {} : { source: options.source }),
  };
  for (const [key, value] of predictorMetadata(info)) g.metadata(key, value);
  g.metadata(PREDICTS_KEY, PREDICTS_NEXT_STEP);
  if (options.pseudo !== undefined) g.metadata("pseudo_count", String(options.pseudo));
  return g.build();
}
