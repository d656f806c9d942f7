// The OpenAI-compatible HTTP front of the router: POST /v1/completions, POST /v1/chat/completions (SSE
// streaming ending in `data: [DONE]`, stream_options.include_usage), GET /v1/models, GET /health, and
// OpenAI's error JSON with the matching status (openai-errors.ts).
//
// Why the router's second port and not a service of its own: a front service would be a gRPC client of
// the router, adding a hop, a process, a deployment, and a second copy of the tokenizer (chat templates
// are rendered before tokenisation) and of the limits. In the router it calls the same runGeneration
// as InferenceService/Generate: one validation, one admission queue (429 at the same limit), one set of
// metrics, and a client disconnect aborts the same signal that a cancelled gRPC stream does. TGI's
// router serves HTTP the same way in front of gRPC shards, and vLLM's API server sits in the engine's
// process. The cost is that the HTTP front scales with the router, which it would anyway: the router is
// the one that holds the sequences.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DeadlineExceededError, CancelledError, InvalidArgumentError, NotFoundError, type Logger } from "@expertmesh/runtime";
import { runGeneration, type GenerationContext } from "../generation.js";
import type { RouterState } from "../router-state.js";
import { ChatTemplate } from "./chat-template.js";
import { httpError } from "./openai-errors.js";
import { parseChatRequest, parseCompletionRequest, type CompletionRequest } from "./openai-requests.js";
import { ResponseBuilder, finishReason, type Endpoint } from "./openai-responses.js";

export interface OpenAiServerOptions {
  host: string;
  port: number;
  /** Deadline of one request (a stream: until its last chunk). */
  timeoutMs: number;
  /** Largest request body; larger gets 413. */
  maxBodyBytes: number;
  /** Whether /health answers 200 (the router's gRPC health). */
  healthy: () => boolean;
  modelDir: string;
  logger?: Logger;
}

export interface OpenAiServer {
  readonly port: number;
  /** "http://host:port". */
  readonly url: string;
  /** Stops accepting connections, lets running requests finish for up to `timeoutMs`, then cuts the rest. */
  close(timeoutMs: number): Promise<void>;
}

export async function startOpenAiServer(state: RouterState, o: OpenAiServerOptions): Promise<OpenAiServer> {
  const template = ChatTemplate.load(o.modelDir);
  const running = new Set<ServerResponse>();
  const http = createServer((req, res) => {
    running.add(res);
    res.once("close", () => running.delete(res));
    void route(req, res).catch((e: unknown) => {
      o.logger?.error("http request failed", { path: req.url, error: (e as Error)?.message ?? String(e) });
      sendError(res, e);
    });
  });
  http.headersTimeout = 10_000;
  http.requestTimeout = 30_000; // receiving the request; the response has its own deadline
  http.keepAliveTimeout = 65_000;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    const post = (handler: (body: unknown) => Promise<void>) =>
      req.method === "POST" ? readJson(req, o.maxBodyBytes).then(handler) : methodNotAllowed(res, "POST");
    switch (path) {
      case "/v1/completions":
        return post((body) => generation(res, "completion", parseCompletionRequest(body)));
      case "/v1/chat/completions":
        return post(async (body) => {
          const chat = parseChatRequest(body);
          if (!template) {
            throw new InvalidArgumentError(
              "messages",
              `model ${JSON.stringify(state.modelName)} has no chat_template in its tokenizer_config.json: use /v1/completions`,
            );
          }
          await generation(res, "chat", { ...chat, prompt: template.render(chat.messages) });
        });
      case "/v1/models":
        if (req.method !== "GET") return methodNotAllowed(res, "GET");
        return sendJson(res, 200, {
          object: "list",
          data: [{ id: state.modelName, object: "model", created: 0, owned_by: "expertmesh", max_model_len: state.model.maxPositions }],
        });
      case "/health":
        if (req.method !== "GET") return methodNotAllowed(res, "GET");
        return o.healthy() ? sendJson(res, 200, { status: "ok" }) : sendJson(res, 503, { status: "not serving" });
      default:
        throw new NotFoundError("path", path ?? "/", {
          message: `no route ${req.method} ${path}: try /v1/completions, /v1/chat/completions, /v1/models, /health`,
        });
    }
  }

  async function generation(res: ServerResponse, endpoint: Endpoint, r: CompletionRequest): Promise<void> {
    const ctx = requestContext(res, o.timeoutMs);
    try {
      const out = new ResponseBuilder(endpoint, state.modelName, r.includeUsage);
      const gen = runGeneration(state, { model: r.model, prompt: r.prompt, sampling: r.sampling }, ctx);
      let next = await gen.next(); // validation and admission errors come here, before any header
      if (!r.stream) {
        let text = "";
        for (; !next.done; next = await gen.next()) {
          text += next.value.text;
          if (next.value.usage) return sendJson(res, 200, out.whole(text, next.value.finishReason, next.value.usage));
        }
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      const event = (data: object | string) => res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
      if (endpoint === "chat") event(out.chunk("", null, true));
      try {
        for (; !next.done; next = await gen.next()) {
          const c = next.value;
          if (c.usage) {
            event(out.chunk(c.text, finishReason(c.finishReason)));
            if (r.includeUsage) event(out.usageChunk(c.usage));
          } else if (c.text !== "") event(out.chunk(c.text, null));
        }
      } catch (e) {
        if (ctx.signal.aborted && ctx.signal.reason instanceof CancelledError) return; // the client left
        event(httpError(e).body);
      }
      event("[DONE]");
      res.end();
    } finally {
      ctx.dispose();
    }
  }

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(o.port, o.host, () => {
      http.removeListener("error", reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${o.host.includes(":") ? `[${o.host}]` : o.host}:${port}`,
    close: (timeoutMs) =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeIdleConnections();
        const until = Date.now() + timeoutMs;
        while (running.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        http.closeAllConnections();
        await closed;
      })()),
  };
}

/** Deadline and cancellation of one HTTP request: aborted when the client disconnects or the deadline passes. */
function requestContext(res: ServerResponse, timeoutMs: number): GenerationContext & { dispose(): void } {
  const controller = new AbortController();
  const deadline = Date.now() + timeoutMs;
  const timer = setTimeout(() => controller.abort(new DeadlineExceededError(`request deadline of ${timeoutMs} ms exceeded`)), timeoutMs);
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new CancelledError("the HTTP client disconnected"));
  };
  res.once("close", onClose);
  return {
    deadline,
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      res.removeListener("close", onClose);
    },
  };
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new BodyTooLarge(declared, limit);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge(size, limit);
    parts.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString("utf8"));
  } catch (e) {
    throw new InvalidArgumentError("", `the request body is not valid JSON: ${(e as Error).message}`);
  }
}

class BodyTooLarge extends InvalidArgumentError {
  constructor(size: number, limit: number) {
    super("", `the request body is ${size} bytes or more, above the limit of ${limit}`, {
      reason: "REQUEST_TOO_LARGE",
      limit,
      value: size,
    });
  }
}

function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (e instanceof CancelledError) {
    res.destroy(); // nobody is listening
    return;
  }
  const { status, body, retryAfterS } = httpError(e);
  const headers: Record<string, string> = retryAfterS !== undefined ? { "retry-after": String(retryAfterS) } : {};
  // A body too large is answered without reading the rest of it; close the connection after.
  if (e instanceof BodyTooLarge) {
    sendJson(res, 413, body, { ...headers, connection: "close" });
    return;
  }
  sendJson(res, status, body, headers);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  sendJson(
    res,
    405,
    { error: { message: `method not allowed: use ${allow}`, type: "invalid_request_error", param: null, code: "method_not_allowed" } },
    { allow },
  );
}

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}
