// What the harness drives: a streaming generation API. The gRPC InferenceService through the SDK
// (grpcBackend) or an OpenAI-compatible HTTP server (openAiBackend, backend-openai.ts), behind one shape.
import type { ExpertMeshClient, SamplingParams } from "@expertmesh/client";

/** One streamed piece of a generation, as the harness times it. */
export interface StreamChunk {
  /** Tokens this chunk carries (0 for a chunk with only the finish reason or usage). */
  readonly tokens: number;
  readonly finishReason?: string;
  readonly promptTokens?: number;
  /** The generation's whole output token count, when the server reports it (it wins over the chunks' sum). */
  readonly completionTokens?: number;
}

export interface GenerationBackend {
  /** A streamed generation; errors are the SDK's typed errors (their gRPC status names the failure). */
  generate(prompt: string, sampling: SamplingParams, call: { timeoutMs: number; signal: AbortSignal }): AsyncIterable<StreamChunk>;
  /** Token count of `text` as the server's tokenizer counts it in a prompt. */
  promptTokens(text: string): Promise<number>;
  close(): void;
}

export function grpcBackend(client: ExpertMeshClient): GenerationBackend {
  return {
    async *generate(prompt, sampling, call) {
      for await (const c of client.generate(prompt, { ...sampling, ...call })) {
        yield { tokens: c.tokenIds.length, finishReason: c.finishReason, promptTokens: c.usage?.promptTokens };
      }
    },
    promptTokens: async (text) => (await client.tokenize(text, { timeoutMs: 10_000 })).tokenIds.length,
    close: () => client.close(),
  };
}

/** A backend as given, or the SDK client wrapped as one (what runLoad and generatedPrompts accept). */
export function asBackend(client: ExpertMeshClient | GenerationBackend): GenerationBackend {
  return "promptTokens" in client ? client : grpcBackend(client);
}
