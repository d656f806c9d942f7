import type { TokenizeRequest, TokenizeResponse } from "@expertmesh/proto";
import { InvalidArgumentError } from "@expertmesh/runtime";
import { checkModel } from "./request-validation.js";
import type { RouterState } from "./router-state.js";

/** InferenceService.Tokenize: token ids and their text, with the BOS token when add_special_tokens. */
export function tokenizeHandler(state: RouterState) {
  return function tokenize(req: TokenizeRequest): TokenizeResponse {
    checkModel(req.model, state.modelName);
    const bytes = Buffer.byteLength(req.text);
    if (bytes > state.config.maxPromptBytes) {
      throw new InvalidArgumentError("text", `is ${bytes} bytes, above the limit of ${state.config.maxPromptBytes}`, {
        limit: state.config.maxPromptBytes,
        value: bytes,
      });
    }
    const ids = req.addSpecialTokens ? state.tokenizer.encodePrompt(req.text) : state.tokenizer.encode(req.text);
    return { tokenIds: ids, tokens: ids.map((id) => state.tokenizer.decode([id])) };
  };
}
