// The one promise client: every unary call and every bidirectional stream that a service or tool makes
// goes through here, once, with a deadline, cancellation by AbortSignal, and the mapping of a failed
// call's status to the error class the server threw (errorFromStatus). Nothing else writes a callback
// wrapper or compares a status code with a number: callers branch on the error's class.
//
//   const res = await unaryCall(client, "runExperts", request, { timeoutMs: 500, signal });
//   const stream = openBidi(client, "dispatchExperts", { onMessage, onEnd });

import { Metadata, status, type CallOptions, type ClientDuplexStream, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { errorFromStatus } from "./error-status.js";
import { CancelledError, DeadlineExceededError, type ExpertMeshError } from "./errors.js";

/** A grpc-js unary method in its (request, metadata, options, callback) form. */
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** The keys of `C` that are unary methods. */
type UnaryKeys<C> = { [K in keyof C]: C[K] extends UnaryMethod<never, unknown> ? K : never }[keyof C];
type RequestOf<M> = M extends UnaryMethod<infer Req, unknown> ? Req : never;
type ResponseOf<M> = M extends UnaryMethod<never, infer Res> ? Res : never;

export interface UnaryCallOptions {
  /** Milliseconds from now; combined with `deadline` (the earlier wins). Default: none. */
  readonly timeoutMs?: number;
  /** Epoch milliseconds. */
  readonly deadline?: number;
  /** Cancels the call; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  readonly metadata?: Metadata;
  /** More grpc-js call options (e.g. `parent` to inherit a server call's deadline and cancellation). */
  readonly callOptions?: Partial<CallOptions>;
}

/** The epoch-ms deadline of a call (Infinity: none). */
export function callDeadline(options: { timeoutMs?: number; deadline?: number }): number {
  return Math.min(options.deadline ?? Infinity, options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs);
}

/**
 * Calls unary method `method` of `client`. Resolves with the response; rejects with an ExpertMeshError
 * subclass (UnavailableError, DeadlineExceededError, InvalidArgumentError, ...), or with the signal's
 * reason when `signal` aborted it.
 */
export function unaryCall<C extends object, K extends UnaryKeys<C>>(
  client: C,
  method: K,
  request: RequestOf<C[K]>,
  options: UnaryCallOptions = {},
): Promise<ResponseOf<C[K]>> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const deadline = callDeadline(options);
  if (deadline <= Date.now())
    return Promise.reject(new DeadlineExceededError(`${String(method)}: the deadline passed before the call started`));
  const fn = client[method] as unknown as UnaryMethod<RequestOf<C[K]>, ResponseOf<C[K]>>;
  return new Promise((resolve, reject) => {
    const callOptions: Partial<CallOptions> = { ...options.callOptions };
    if (Number.isFinite(deadline)) callOptions.deadline = deadline;
    const call = fn.call(client, request, options.metadata ?? new Metadata(), callOptions, (error, response) => {
      signal?.removeEventListener("abort", onAbort);
      if (error === null) resolve(response);
      else if (signal?.aborted) reject(signal.reason);
      else reject(callError(error));
    });
    const onAbort = (): void => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A failed call's status as an ExpertMeshError (the typed class the server threw, or the transport's). */
export function callError(error: ServiceError | Error): ExpertMeshError {
  const e = error as Partial<ServiceError>;
  if (typeof e.code !== "number") return errorFromStatus({ code: status.UNKNOWN, details: error.message, metadata: null });
  if (e.code === status.CANCELLED) return new CancelledError(e.details ?? error.message, { cause: error });
  return errorFromStatus({ code: e.code, details: e.details ?? error.message, metadata: e.metadata ?? null });
}

/** A grpc-js bidirectional method in its (metadata, options) form. */
type BidiMethod<Req, Res> = (metadata: Metadata, options?: Partial<CallOptions>) => ClientDuplexStream<Req, Res>;
type BidiKeys<C> = { [K in keyof C]: C[K] extends BidiMethod<never, unknown> ? K : never }[keyof C];
type BidiRequestOf<M> = M extends BidiMethod<infer Req, unknown> ? Req : never;
type BidiResponseOf<M> = M extends BidiMethod<never, infer Res> ? Res : never;

export interface BidiHandlers<Res> {
  /** Each message from the server. */
  readonly onMessage: (message: Res) => void;
  /** Once, when the stream has ended: `error` is undefined for a clean end (the server finished with OK). */
  readonly onEnd: (error: ExpertMeshError | undefined) => void;
}

/** One open bidirectional stream. */
export interface BidiStream<Req> {
  /** Writes a message; false when the stream's buffer is full (wait for `drained()` before writing more). */
  write(message: Req): boolean;
  /** Resolves once the buffer has room again (at once when it has). */
  drained(): Promise<void>;
  /** Ends the client's side (half-close). */
  end(): void;
  /** Cancels the stream; onEnd sees a CancelledError. */
  cancel(): void;
  readonly ended: boolean;
}

/**
 * Opens a bidirectional stream of `client`. Messages go to `handlers.onMessage`; the end (clean, or the
 * status mapped to its error class) goes to `handlers.onEnd`, once.
 */
export function openBidi<C extends object, K extends BidiKeys<C>>(
  client: C,
  method: K,
  handlers: BidiHandlers<BidiResponseOf<C[K]>>,
  options: { metadata?: Metadata; callOptions?: Partial<CallOptions> } = {},
): BidiStream<BidiRequestOf<C[K]>> {
  const fn = client[method] as unknown as BidiMethod<BidiRequestOf<C[K]>, BidiResponseOf<C[K]>>;
  const call = fn.call(client, options.metadata ?? new Metadata(), options.callOptions ?? {});
  let ended = false;
  let full = false;
  const finish = (error: ExpertMeshError | undefined): void => {
    if (ended) return;
    ended = true;
    handlers.onEnd(error);
  };
  call.on("data", handlers.onMessage);
  call.on("error", (error: ServiceError) => finish(callError(error)));
  call.on("status", (s: { code: number }) => {
    if (s.code === status.OK) finish(undefined);
  });
  call.on("drain", () => (full = false));
  return {
    write: (message) => {
      if (ended) return false;
      full = !call.write(message);
      return !full;
    },
    drained: () => (full && !ended ? new Promise<void>((resolve) => call.once("drain", () => resolve())) : Promise.resolve()),
    end: () => call.end(),
    cancel: () => call.cancel(),
    get ended() {
      return ended;
    },
  };
}
