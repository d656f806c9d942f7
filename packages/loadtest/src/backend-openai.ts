// The harness's client of an OpenAI-compatible server: POST /v1/completions with stream: true and
// stream_options.include_usage, read as server-sent events. Each chunk with text is one token (the way
// vLLM's benchmark counts them); the usage at the end gives the true output count. HTTP errors become
// the SDK's typed errors, so that the report names them as it names gRPC statuses.
import {
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  StatusError,
  UnavailableError,
  type SamplingParams,
} from "@expertmesh/client";
import type { GenerationBackend, StreamChunk } from "./backend.js";

interface CompletionChunk {
  choices?: { text?: string; finish_reason?: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  error?: { message: string; code?: string | null };
}

/** `target`: "http://host:port" or "host:port"; `model`: the name to send (default: the first of /v1/models). */
export function openAiBackend(target: string, model?: string): GenerationBackend {
  const base = (/^https?:\/\//.test(target) ? target : `http://${target}`).replace(/\/+$/, "").replace(/\/v1$/, "");
  let modelName: Promise<string> | undefined = model === undefined ? undefined : Promise.resolve(model);
  const served = () =>
    (modelName ??= fetch(`${base}/v1/models`).then(async (r) => {
      const body = (await r.json()) as { data?: { id: string }[] };
      const id = body.data?.[0]?.id;
      if (!r.ok || id === undefined) throw new UnavailableError(`${base}/v1/models: no model listed (HTTP ${r.status})`);
      return id;
    }));
  const post = async (body: object, signal: AbortSignal) => {
    const r = await fetch(`${base}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: await served(), ...body }),
      signal,
    });
    if (!r.ok) throw httpFailure(r.status, await r.text());
    return r;
  };
  return {
    async *generate(prompt, sampling, call) {
      const signal = AbortSignal.any([call.signal, AbortSignal.timeout(call.timeoutMs)]);
      try {
        const r = await post({ prompt, ...samplingBody(sampling), stream: true, stream_options: { include_usage: true } }, signal);
        let buffer = "";
        const decoder = new TextDecoder();
        for await (const bytes of r.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(bytes, { stream: true });
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = event
              .split("\n")
              .filter((l) => l.startsWith("data:"))
              .map((l) => l.slice(5).trim())
              .join("\n");
            if (data === "" || data === "[DONE]") continue;
            const chunk = JSON.parse(data) as CompletionChunk;
            if (chunk.error) throw httpFailure(500, data);
            yield fromChunk(chunk);
          }
        }
      } catch (e) {
        if (signal.aborted && !call.signal.aborted) throw new DeadlineExceededError(`no answer within ${call.timeoutMs} ms`);
        throw e;
      }
    },
    async promptTokens(text) {
      const r = await post({ prompt: text, max_tokens: 1, temperature: 0 }, AbortSignal.timeout(10_000));
      return ((await r.json()) as CompletionChunk).usage!.prompt_tokens;
    },
    close: () => {},
  };
}

function fromChunk(c: CompletionChunk): StreamChunk {
  const choice = c.choices?.[0];
  return {
    tokens: choice?.text ? 1 : 0,
    ...(choice?.finish_reason ? { finishReason: choice.finish_reason } : {}),
    ...(c.usage ? { promptTokens: c.usage.prompt_tokens, completionTokens: c.usage.completion_tokens } : {}),
  };
}

function samplingBody(s: SamplingParams): object {
  return {
    ...(s.maxTokens ? { max_tokens: s.maxTokens } : {}),
    ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
    ...(s.topP !== undefined ? { top_p: s.topP } : {}),
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    ...(s.stop?.length ? { stop: s.stop } : {}),
  };
}

/** An HTTP error (OpenAI's JSON body) as the SDK's error of the same meaning. */
function httpFailure(httpStatus: number, text: string) {
  let message = text;
  let reason: string | undefined;
  try {
    const e = (JSON.parse(text) as CompletionChunk).error;
    if (e) {
      message = e.message;
      if (e.code && /^[a-z][a-z0-9_]*[a-z0-9]$/.test(e.code)) reason = e.code.toUpperCase();
    }
  } catch {
    // not JSON: keep the text
  }
  const options = reason ? { reason } : {};
  switch (httpStatus) {
    case 400:
    case 413:
      return new InvalidArgumentError("", message, options);
    case 404:
      return new NotFoundError("model", "", { ...options, message });
    case 429:
      return new ResourceExhaustedError("http", message, options);
    case 503:
      return new UnavailableError(message, options);
    case 504:
      return new DeadlineExceededError(message, options);
    default:
      return httpStatus >= 500 ? new InternalError(message, options) : new StatusError(2, `HTTP ${httpStatus}: ${message}`, options);
  }
}
