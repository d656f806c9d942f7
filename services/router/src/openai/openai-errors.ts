// OpenAI's error JSON, `{"error": {"message", "type", "param", "code"}}`, with the HTTP status that
// matches each ExpertMesh error class: 400 invalid, 404 unknown model, 429 overloaded, 503 unavailable,
// 504 deadline, 500 anything else (whose text is not sent).
import {
  CancelledError,
  DeadlineExceededError,
  ExpertMeshError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
} from "@expertmesh/runtime";

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface HttpError {
  status: number;
  body: OpenAiErrorBody;
  /** Seconds for a Retry-After header (429, 503). */
  retryAfterS?: number;
}

export function httpError(error: unknown): HttpError {
  const e = error instanceof ExpertMeshError ? error : undefined;
  const code = e ? e.reason.toLowerCase() : "internal";
  const body = (type: string, message: string, param: string | null = null, c: string | null = code): OpenAiErrorBody => ({
    error: { message, type, param, code: c },
  });
  const retry =
    e && "retryAfterMs" in e && typeof e.retryAfterMs === "number" ? { retryAfterS: Math.max(1, Math.ceil(e.retryAfterMs / 1000)) } : {};
  if (e instanceof InvalidArgumentError) {
    // The gRPC request's field names ("sampling.max_tokens") become the HTTP body's ("max_tokens").
    const param = e.field.replace(/^sampling\./, "");
    const message = e.field === "" ? e.message : `${param}${e.message.slice(e.field.length)}`;
    if (e.reason === "UNKNOWN_MODEL") return { status: 404, body: body("invalid_request_error", message, param, "model_not_found") };
    return { status: 400, body: body("invalid_request_error", message, param === "" ? null : param) };
  }
  if (e instanceof NotFoundError) return { status: 404, body: body("invalid_request_error", e.message) };
  if (e instanceof ResourceExhaustedError) return { status: 429, body: body("rate_limit_error", e.message), ...retry };
  if (e instanceof UnavailableError) return { status: 503, body: body("service_unavailable_error", e.message), ...retry };
  if (e instanceof DeadlineExceededError) return { status: 504, body: body("timeout_error", e.message) };
  if (e instanceof CancelledError) return { status: 499, body: body("cancelled_error", e.message) };
  return { status: 500, body: body("server_error", "internal error", null, "internal") };
}
