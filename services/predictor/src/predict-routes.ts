// PredictorService.PredictRoutes: validates the request, runs the predictor model in the inference
// worker, and answers one float32 [L, E] tensor per token.
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer.
import type { PredictRoutesRequest, PredictRoutesResponse } from "@expertmesh/proto";
import { float32Tensor, InvalidArgumentError, type UnaryHandler } from "@expertmesh/runtime";
import type { InferenceWorker } from "./inference-worker.js";
import type { PredictorInfo } from "@expertmesh/model";

export interface PredictRoutesDeps {
  readonly worker: Pick<InferenceWorker, "predict">;
  readonly info: PredictorInfo;
  /** Most tokens in one request. */
  readonly maxTokens: number;
}

export function predictRoutesHandler(deps: PredictRoutesDeps): UnaryHandler<PredictRoutesRequest, PredictRoutesResponse> {
  const { numLayers: L, numExperts: E, vocabSize } = deps.info;
  return async (request, ctx) => {
    const T = request.tokenIds.length;
    checkRequest(request, deps.maxTokens, vocabSize);
    const tokenIds = BigInt64Array.from(request.tokenIds, (id) => BigInt(id)); // [T]
    const positions = BigInt64Array.from(request.positions, (p) => BigInt(p)); // [T]
    const probabilities = await deps.worker.predict(tokenIds, positions, ctx.signal); // [T, L, E]
    const probabilitiesPerToken = Array.from({ length: T }, (_, t) =>
      float32Tensor(probabilities.subarray(t * L * E, (t + 1) * L * E), [L, E]),
    );
    return { probabilities: probabilitiesPerToken };
  };
}

function checkRequest(request: PredictRoutesRequest, maxTokens: number, vocabSize: number | undefined): void {
  const T = request.tokenIds.length;
  if (T === 0) {
    throw new InvalidArgumentError("token_ids", "is empty; at least 1 token is needed", { reason: "EMPTY_REQUEST", limit: 1, value: 0 });
  }
  if (request.positions.length !== T) {
    throw new InvalidArgumentError(
      "positions",
      `has ${request.positions.length} entries, token_ids has ${T}; they must be the same length`,
      {
        reason: "LENGTH_MISMATCH",
        limit: T,
        value: request.positions.length,
      },
    );
  }
  if (T > maxTokens) {
    throw new InvalidArgumentError("token_ids", `${T} tokens, above the limit of ${maxTokens} per request`, {
      reason: "TOO_MANY_TOKENS",
      limit: maxTokens,
      value: T,
    });
  }
  if (vocabSize !== undefined) {
    const i = request.tokenIds.findIndex((id) => id >= vocabSize);
    if (i !== -1) {
      throw new InvalidArgumentError(`token_ids[${i}]`, `token id ${request.tokenIds[i]} is not below the vocabulary size ${vocabSize}`, {
        reason: "TOKEN_ID_OUT_OF_RANGE",
        limit: vocabSize - 1,
        value: request.tokenIds[i],
      });
    }
  }
}
