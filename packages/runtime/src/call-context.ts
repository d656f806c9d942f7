// What a handler sees of its call besides the request: deadline, cancellation, metadata, and the
// options that make a downstream call inherit both (grpc-js propagates them only when asked).

import {
  propagate,
  type CallOptions,
  type Deadline,
  type Metadata,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
} from "@grpc/grpc-js";

/** The grpc-js server calls that createServer supports (unary, server-streaming and bidirectional). */
export type ServerCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>;
import { CancelledError, DeadlineExceededError } from "./errors.js";

export interface CallContext {
  /** Full method path, e.g. "/expertmesh.v1.ExpertShardService/RunExperts". */
  readonly method: string;
  /** Request metadata (headers). */
  readonly metadata: Metadata;
  /** Address of the client. */
  readonly peer: string;
  /** Deadline in epoch milliseconds; Infinity when the client set none. */
  readonly deadline: number;
  /**
   * Aborted when the client cancels, the deadline passes, or the server stops waiting for this call;
   * `signal.reason` is then a CancelledError or DeadlineExceededError. Pass it to long work.
   */
  readonly signal: AbortSignal;
  /** Milliseconds left until the deadline (Infinity when none, 0 once passed). */
  remainingMs(): number;
  /** Options for a downstream call that inherits this call's deadline and cancellation. */
  downstream(): CallOptions;
}

/** A CallContext plus the means to end it; owned by the handler wrapper. */
export interface CallScope {
  readonly ctx: CallContext;
  /** Aborts ctx.signal with `reason` (no effect once aborted). */
  abort(reason: Error): void;
  /** Releases the deadline timer and listeners; call once the handler is done. */
  dispose(): void;
}

/** Deadline of a server call in epoch milliseconds (Infinity when none). */
export function deadlineMs(deadline: Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/** How early before its deadline a cancelled call still counts as past its deadline (transit and timer jitter). */
const DEADLINE_SLACK_MS = 50;

export function createCallScope(call: ServerCall, method: string): CallScope {
  const controller = new AbortController();
  const deadline = deadlineMs(call.getDeadline());
  const abort = (reason: Error): void => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  // grpc-js also cancels the call when its own deadline timer fires, which may run before ours, and a
  // client cancels at its own deadline, which the server (having read the relative grpc-timeout late on a
  // busy machine) sees up to the request's transit time later: a cancellation within DEADLINE_SLACK_MS
  // of the deadline is the deadline.
  const onCancelled = (): void =>
    abort(
      Date.now() >= deadline - DEADLINE_SLACK_MS
        ? new DeadlineExceededError(`${method}: deadline exceeded`)
        : new CancelledError(`${method} cancelled by the client`),
    );
  const events = call as unknown as NodeJS.EventEmitter; // every ServerCall emits "cancelled"
  events.on("cancelled", onCancelled);
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadline)) {
    // setTimeout's delay is a signed 32-bit number of ms: clamp (a later re-check is not needed for
    // the deadlines that RPCs use, all far below 24 days).
    const delay = Math.min(Math.max(0, deadline - Date.now()), 2 ** 31 - 1);
    timer = setTimeout(() => abort(new DeadlineExceededError(`${method}: deadline exceeded`)), delay);
    timer.unref();
  }
  const ctx: CallContext = {
    method,
    metadata: call.metadata,
    peer: call.getPeer(),
    deadline,
    signal: controller.signal,
    remainingMs: () => (Number.isFinite(deadline) ? Math.max(0, deadline - Date.now()) : Infinity),
    downstream: () => ({ parent: call, propagate_flags: propagate.DEFAULTS }),
  };
  return {
    ctx,
    abort,
    dispose: () => {
      if (timer !== undefined) clearTimeout(timer);
      events.removeListener("cancelled", onCancelled);
    },
  };
}
