// The trained MLP predictor (packages/moe predictor-mlp.ts) as an ONNX predictor model, behind the
// signature that every predictor shares:
//
//   token_ids int64 [T], positions int64 [T]  ->  probabilities float32 [T, L, E]
//
//   x1 = Gather(embedding [V, D], token_ids) · W1[:D]            [T, H]
//   x2 = Gather(positionRows [M, H], clamp(positions, 0, M - 1))  [T, H]   row p = W1[D + bucket(p)] + b1
//   z  = relu(x1 + x2) · W2 + b2 + Gather(tokenBias [V, O], token_ids)    [T, O]
//   probabilities = Reshape(sigmoid(z), [T, L, E])
//
// M = 2^(P-2) + 1 rows cover every bucket (a position of M - 1 or more is in the last bucket).
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, V vocabulary, D embedding size, P position buckets, M
// position rows, H hidden units (the predictor's meanings), L MoE layers, E experts per layer, O = L*E.
import { GraphBuilder } from "../onnx/graph-builder.js";
import { checkMlp, positionBucket, type MlpPredictor } from "@expertmesh/moe";
import { PREDICTOR_INPUTS, PREDICTOR_OUTPUT, predictorMetadata, type PredictorInfo } from "./predictor-info.js";

export const MLP_KIND = "mlp";

/** The ONNX model (bytes) of `model`; `traceTokens` and `source` (the training traces) go into its metadata. */
export function buildMlpPredictorModel(model: MlpPredictor, options: { traceTokens?: number; source?: string } = {}): Uint8Array {
  const O = checkMlp(model);
  const { numLayers: L, numExperts: E, vocab: V, dim: D, positionBuckets: P, hidden: H } = model;
  const M = P === 1 ? 1 : 2 ** (P - 2) + 1;
  const positionRows = new Float32Array(M * H); // [M, H]
  for (let p = 0; p < M; p++) {
    const row = (D + positionBucket(p, P)) * H;
    for (let h = 0; h < H; h++) positionRows[p * H + h] = model.w1[row + h] + model.b1[h];
  }

  const g = new GraphBuilder("mlp_predictor");
  const tokenIds = g.input(PREDICTOR_INPUTS.tokenIds, "int64", ["T"]);
  const positions = g.input(PREDICTOR_INPUTS.positions, "int64", ["T"]);
  const embedded = g.op("Gather", [g.initializer("embedding", model.embedding, [V, D]), tokenIds], { axis: 0 }); // [T, D]
  const x1 = g.op("MatMul", [embedded, g.initializer("w1_token", model.w1.slice(0, D * H), [D, H])]); // [T, H]
  const clamped = g.op("Max", [g.op("Min", [positions, g.ints([M - 1], "last_position")]), g.ints([0], "first_position")]);
  const x2 = g.op("Gather", [g.initializer("position_rows", positionRows, [M, H]), clamped], { axis: 0 }); // [T, H]
  const a = g.op("Relu", [g.op("Add", [x1, x2])]); // [T, H]
  const z2 = g.op("Add", [g.op("MatMul", [a, g.initializer("w2", model.w2, [H, O])]), g.initializer("b2", model.b2, [O])]);
  const bias = g.op("Gather", [g.initializer("token_bias", model.tokenBias, [V, O]), tokenIds], { axis: 0 }); // [T, O]
  const probs = g.op("Sigmoid", [g.op("Add", [z2, bias])]); // [T, O]
  const shape = g.op("Concat", [g.op("Shape", [tokenIds]), g.ints([L, E])], { axis: 0 });
  g.output(g.op("Reshape", [probs, shape]), PREDICTOR_OUTPUT, "float32", ["T", L, E]);

  const info: PredictorInfo = {
    kind: MLP_KIND,
    baseline: false,
    numLayers: L,
    numExperts: E,
    topK: model.topK,
    vocabSize: V,
    ...(options.traceTokens === undefined ? {} : { traceTokens: options.traceTokens }),
    ...(options.source === undefined ? {} : { source: options.source }),
  };
  for (const [key, value] of predictorMetadata(info)) g.metadata(key, value);
  g.metadata("hidden", String(H)).metadata("position_buckets", String(P)).metadata("embedding_dim", String(D));
  return g.build();
}
