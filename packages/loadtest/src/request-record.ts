// What the harness keeps of one request: its times (ms since the run's start) and its outcome.
// Latencies are taken from `scheduledMs`, the moment the load model meant the request to start, so that
// a server that stalls (and thereby delays the requests queued behind it) cannot hide the stall
// (coordinated omission); `sentMs` is kept to show the difference.

export interface RequestRecord {
  readonly index: number;
  /** Scheduled in the warm-up: sent, not counted. */
  readonly warmup: boolean;
  readonly scheduledMs: number;
  /** When the call was made; undefined when the run ended before it could be sent. */
  sentMs?: number;
  firstTokenMs?: number;
  lastTokenMs?: number;
  endMs?: number;
  outputTokens: number;
  promptTokens?: number;
  /** Gaps between consecutive token chunks, ms. */
  readonly gapsMs: number[];
  /** "OK" or the gRPC status name (UNAVAILABLE, RESOURCE_EXHAUSTED, ...). */
  code?: string;
  /** google.rpc.ErrorInfo reason, for failures. */
  reason?: string;
  message?: string;
  finishReason?: string;
}

/** Time to first token from the scheduled start (undefined without a token). */
export const ttftMs = (r: RequestRecord) => (r.firstTokenMs === undefined ? undefined : r.firstTokenMs - r.scheduledMs);
/** End-to-end latency from the scheduled start (completed requests). */
export const e2eMs = (r: RequestRecord) => (r.endMs === undefined || r.code !== "OK" ? undefined : r.endMs - r.scheduledMs);
/** Mean time per output token after the first (needs two tokens). */
export const tpotMs = (r: RequestRecord) =>
  r.firstTokenMs === undefined || r.lastTokenMs === undefined || r.outputTokens < 2 || r.code !== "OK"
    ? undefined
    : (r.lastTokenMs - r.firstTokenMs) / (r.outputTokens - 1);
