// The response objects of /v1/completions and /v1/chat/completions (whole, and as streamed chunks), in
// OpenAI's shapes, built from runGeneration's chunks.
import { randomUUID } from "node:crypto";
import { FinishReason, type Usage } from "@expertmesh/proto";

export type Endpoint = "completion" | "chat";

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function openAiUsage(u: Usage | undefined): OpenAiUsage {
  const prompt = u?.promptTokens ?? 0;
  const completion = u?.completionTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** OpenAI's finish_reason: "stop" (end of sequence or a stop string), "length", or vLLM's "abort". */
export function finishReason(f: FinishReason): string | null {
  switch (f) {
    case FinishReason.FINISH_REASON_EOS:
    case FinishReason.FINISH_REASON_STOP_STRING:
      return "stop";
    case FinishReason.FINISH_REASON_LENGTH:
      return "length";
    case FinishReason.FINISH_REASON_CANCELLED:
      return "abort";
    default:
      return null;
  }
}

/** Builds the objects of one response: the id and creation time are shared by all its chunks. */
export class ResponseBuilder {
  private readonly id: string;
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(
    private readonly endpoint: Endpoint,
    private readonly model: string,
    private readonly includeUsage = false,
  ) {
    this.id = `${endpoint === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID().replaceAll("-", "")}`;
  }

  whole(text: string, finish: FinishReason, usage: Usage | undefined): object {
    const reason = finishReason(finish);
    const choice =
      this.endpoint === "chat"
        ? { index: 0, message: { role: "assistant", content: text }, logprobs: null, finish_reason: reason }
        : { index: 0, text, logprobs: null, finish_reason: reason };
    return { ...this.head(false), choices: [choice], usage: openAiUsage(usage) };
  }

  /** A streamed chunk carrying `text` (chat: `role` on the first chunk), and the finish reason on the last. */
  chunk(text: string, finish: string | null, first = false): object {
    const choice =
      this.endpoint === "chat"
        ? {
            index: 0,
            delta: first ? { role: "assistant", content: text } : finish !== null && text === "" ? {} : { content: text },
            logprobs: null,
            finish_reason: finish,
          }
        : { index: 0, text, logprobs: null, finish_reason: finish };
    return { ...this.head(true), choices: [choice], ...(this.includeUsage ? { usage: null } : {}) };
  }

  /** The chunk after the last choice chunk when stream_options.include_usage is set: no choices, the usage. */
  usageChunk(usage: Usage | undefined): object {
    return { ...this.head(true), choices: [], usage: openAiUsage(usage) };
  }

  private head(streamed: boolean) {
    const object = this.endpoint === "chat" ? (streamed ? "chat.completion.chunk" : "chat.completion") : "text_completion";
    return { id: this.id, object, created: this.created, model: this.model };
  }
}
