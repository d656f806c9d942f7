// The request bodies of /v1/completions and /v1/chat/completions, checked field by field and turned
// into what runGeneration takes. Fields that change what OpenAI would return and that this server does
// not implement (n > 1, logprobs, echo, penalties, tools, ...) are refused with 400 naming the field,
// never silently ignored. Fields that change nothing here (user, metadata, ...) are accepted.
import type { SamplingOptions } from "@expertmesh/proto";
import { InvalidArgumentError } from "@expertmesh/runtime";

export interface ChatMessage {
  role: string;
  content: string;
}

interface Common {
  model: string;
  sampling: SamplingOptions;
  stream: boolean;
  includeUsage: boolean;
}

export interface CompletionRequest extends Common {
  prompt: string;
}

export interface ChatRequest extends Common {
  messages: ChatMessage[];
}

type Body = Record<string, unknown>;

const invalid = (field: string, message: string, value?: unknown) =>
  new InvalidArgumentError(
    field,
    message,
    value === undefined ? {} : { value: typeof value === "object" ? JSON.stringify(value) : String(value) },
  );

export function asObject(raw: unknown): Body {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw invalid("", "the request body must be a JSON object");
  return raw as Body;
}

export function parseCompletionRequest(raw: unknown): CompletionRequest {
  const b = asObject(raw);
  refuse(b, ["suffix", "logit_bias", "best_of"], { best_of: 1 });
  if (b.echo !== undefined && b.echo !== false) throw invalid("echo", "echo is not supported (only false)", b.echo);
  let prompt = b.prompt;
  if (Array.isArray(prompt)) {
    if (prompt.length !== 1 || typeof prompt[0] !== "string") {
      throw invalid(
        "prompt",
        `must be a string or an array of one string (token-id and batched prompts are not supported), got an array of ${prompt.length}`,
      );
    }
    prompt = prompt[0];
  }
  if (typeof prompt !== "string")
    throw invalid("prompt", "is required and must be a string", prompt === undefined ? "missing" : typeof prompt);
  return { prompt, ...common(b, "max_tokens") };
}

export function parseChatRequest(raw: unknown): ChatRequest {
  const b = asObject(raw);
  refuse(b, ["tools", "functions", "logit_bias", "response_format", "audio", "prediction"], {});
  if (b.tool_choice !== undefined && b.tool_choice !== "none")
    throw invalid("tool_choice", 'tools are not supported (only "none")', b.tool_choice);
  if (b.top_logprobs !== undefined && b.top_logprobs !== null && b.top_logprobs !== 0)
    throw invalid("top_logprobs", "log probabilities are not supported", b.top_logprobs);
  if (!Array.isArray(b.messages) || b.messages.length === 0) throw invalid("messages", "is required and must be a non-empty array");
  const messages = b.messages.map((m, i) => message(m, i));
  const maxKey = b.max_completion_tokens !== undefined && b.max_completion_tokens !== null ? "max_completion_tokens" : "max_tokens";
  return { messages, ...common(b, maxKey) };
}

function message(raw: unknown, i: number): ChatMessage {
  const field = `messages[${i}]`;
  if (raw === null || typeof raw !== "object") throw invalid(field, "must be an object with role and content");
  const m = raw as Body;
  if (typeof m.role !== "string" || m.role === "") throw invalid(`${field}.role`, "is required and must be a string");
  let content = m.content;
  if (Array.isArray(content)) {
    // Content parts: only text parts can be served by a text model.
    content = content
      .map((part: unknown, j) => {
        const p = part as Body | null;
        if (p?.type !== "text" || typeof p.text !== "string")
          throw invalid(`${field}.content[${j}]`, "only text parts are supported", p?.type ?? typeof part);
        return p.text;
      })
      .join("");
  }
  if (content === null || content === undefined) content = "";
  if (typeof content !== "string") throw invalid(`${field}.content`, "must be a string or an array of text parts", typeof content);
  return { role: m.role, content };
}

/** Fields this server does not implement: refused unless absent, null, or the given neutral value. */
function refuse(b: Body, fields: string[], neutral: Record<string, unknown>): void {
  for (const f of fields) {
    const v = b[f];
    if (v !== undefined && v !== null && v !== neutral[f]) throw invalid(f, "is not supported by this server", v);
  }
}

function common(b: Body, maxKey: "max_tokens" | "max_completion_tokens"): Common {
  if (typeof b.model !== "string")
    throw invalid("model", "is required and must be a string", b.model === undefined ? "missing" : typeof b.model);
  const n = b.n ?? 1;
  if (n !== 1) throw invalid("n", "only n = 1 is supported", n);
  if (b.logprobs !== undefined && b.logprobs !== null && b.logprobs !== false && b.logprobs !== 0) {
    throw invalid("logprobs", "log probabilities are not supported", b.logprobs);
  }
  for (const p of ["presence_penalty", "frequency_penalty"]) {
    if (b[p] !== undefined && b[p] !== null && b[p] !== 0) throw invalid(p, "penalties are not supported (only 0)", b[p]);
  }
  const stream = optionalBoolean(b, "stream") ?? false;
  const options = b.stream_options;
  let includeUsage = false;
  if (options !== undefined && options !== null) {
    if (!stream) throw invalid("stream_options", "is only allowed when stream is true");
    if (typeof options !== "object") throw invalid("stream_options", "must be an object");
    includeUsage = optionalBoolean(options as Body, "include_usage", "stream_options.") ?? false;
  }
  const sampling: SamplingOptions = { maxTokens: 0, stop: stops(b.stop) };
  const maxTokens = optionalNumber(b, maxKey);
  if (maxTokens !== undefined) {
    if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 2 ** 31 - 1)
      throw invalid(maxKey, `must be a positive integer, got ${maxTokens}`, maxTokens);
    sampling.maxTokens = maxTokens;
  }
  const temperature = optionalNumber(b, "temperature");
  if (temperature !== undefined) sampling.temperature = temperature;
  const topP = optionalNumber(b, "top_p");
  if (topP !== undefined) sampling.topP = topP;
  const seed = optionalNumber(b, "seed");
  if (seed !== undefined) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)
      throw invalid("seed", `must be an integer in [0, 2^32 - 1], got ${seed}`, seed);
    sampling.seed = seed;
  }
  return { model: b.model, sampling, stream, includeUsage };
}

function stops(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw === "string") return [raw];
  if (Array.isArray(raw) && raw.every((s) => typeof s === "string")) return raw as string[];
  throw invalid("stop", "must be a string or an array of strings");
}

function optionalNumber(b: Body, key: string): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(key, "must be a number", typeof v);
  return v;
}

function optionalBoolean(b: Body, key: string, prefix = ""): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw invalid(`${prefix}${key}`, "must be true or false", typeof v);
  return v;
}
