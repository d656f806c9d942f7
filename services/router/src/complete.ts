import type { CompleteRequest, CompleteResponse } from "@expertmesh/proto";
import type { CallContext } from "@expertmesh/runtime";
import { runGeneration } from "./generation.js";
import type { RouterState } from "./router-state.js";

/** InferenceService.Complete: the whole completion in one response. */
export function completeHandler(state: RouterState) {
  return async function complete(req: CompleteRequest, ctx: CallContext): Promise<CompleteResponse> {
    const out: CompleteResponse = { tokenIds: [], text: "", finishReason: 0, usage: undefined };
    for await (const chunk of runGeneration(state, req, ctx)) {
      out.tokenIds.push(...chunk.tokenIds);
      out.text += chunk.text;
      out.finishReason = chunk.finishReason;
      out.usage = chunk.usage;
    }
    return out;
  };
}
