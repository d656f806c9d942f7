// Validation of the public requests: every limit is named with the value given.
import type { TextTokenizer, MoeConfig } from "@expertmesh/model";
import type { SamplingOptions } from "@expertmesh/proto";
import { InvalidArgumentError } from "@expertmesh/runtime";
import type { RouterConfig } from "./config.js";
import type { SamplingParams } from "./engine/protocol.js";

export const MAX_STOP_LENGTH = 256;

export interface ValidatedRequest {
  prompt: number[];
  sampling: SamplingParams;
  stops: string[];
}

export function checkModel(requested: string, served: string): void {
  if (requested !== "" && requested !== served) {
    throw new InvalidArgumentError("model", `unknown model; this router serves ${JSON.stringify(served)}`, {
      reason: "UNKNOWN_MODEL",
      limit: served,
      value: requested,
    });
  }
}

export function validateGeneration(
  req: { model: string; prompt: string; sampling?: SamplingOptions | undefined },
  served: string,
  config: RouterConfig,
  model: MoeConfig,
  tok: TextTokenizer,
): ValidatedRequest {
  checkModel(req.model, served);
  const bytes = Buffer.byteLength(req.prompt);
  if (bytes === 0) throw new InvalidArgumentError("prompt", "is empty", { limit: 1, value: 0 });
  if (bytes > config.maxPromptBytes) {
    throw new InvalidArgumentError("prompt", `is ${bytes} bytes, above the limit of ${config.maxPromptBytes}`, {
      reason: "PROMPT_TOO_LONG",
      limit: config.maxPromptBytes,
      value: bytes,
    });
  }
  const s = req.sampling;
  const maxTokens = s?.maxTokens || config.defaultMaxTokens;
  const temperature = s?.temperature ?? 0;
  const topP = s?.topP ?? 1;
  if (!(temperature >= 0 && temperature <= 100)) {
    throw new InvalidArgumentError("sampling.temperature", `must be in [0, 100], got ${temperature}`, {
      limit: "[0, 100]",
      value: temperature,
    });
  }
  if (!(topP > 0 && topP <= 1))
    throw new InvalidArgumentError("sampling.top_p", `must be in (0, 1], got ${topP}`, { limit: "(0, 1]", value: topP });
  const stops = s?.stop ?? [];
  if (stops.length > config.maxStopStrings) {
    throw new InvalidArgumentError("sampling.stop", `${stops.length} stop strings, above the limit of ${config.maxStopStrings}`, {
      limit: config.maxStopStrings,
      value: stops.length,
    });
  }
  stops.forEach((stop, i) => {
    if (stop.length === 0 || stop.length > MAX_STOP_LENGTH) {
      throw new InvalidArgumentError(`sampling.stop[${i}]`, `length ${stop.length} outside [1, ${MAX_STOP_LENGTH}]`, {
        limit: MAX_STOP_LENGTH,
        value: stop.length,
      });
    }
  });
  const prompt = tok.encodePrompt(req.prompt);
  const context = model.maxPositions;
  if (maxTokens > context) {
    throw new InvalidArgumentError("sampling.max_tokens", `${maxTokens} is above the context length ${context}`, {
      limit: context,
      value: maxTokens,
    });
  }
  if (prompt.length + maxTokens > context) {
    throw new InvalidArgumentError(
      "prompt",
      `${prompt.length} prompt tokens + max_tokens ${maxTokens} = ${prompt.length + maxTokens}, above the context length ${context}`,
      {
        reason: "CONTEXT_LENGTH_EXCEEDED",
        limit: context,
        value: prompt.length + maxTokens,
      },
    );
  }
  return { prompt, sampling: { maxTokens, temperature, topP, seed: s?.seed ?? 0 }, stops };
}
