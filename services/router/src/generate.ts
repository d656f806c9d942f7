import type { GenerateRequest, GenerateResponse } from "@expertmesh/proto";
import type { CallContext } from "@expertmesh/runtime";
import { runGeneration } from "./generation.js";
import type { RouterState } from "./router-state.js";

/** InferenceService.Generate: a stream of token chunks, the last one with finish reason and usage. */
export function generateHandler(state: RouterState) {
  return async function* generate(req: GenerateRequest, ctx: CallContext): AsyncGenerator<GenerateResponse> {
    yield* runGeneration(state, req, ctx);
  };
}
