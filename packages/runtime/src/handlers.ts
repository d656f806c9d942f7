// The one place where every handler is wrapped (grpc-js server interceptors see statuses, not the
// errors that handlers throw, and cannot turn a promise into a callback): admission while draining,
// the deadline check, the CallContext, async handlers, backpressure on streams, error mapping, and
// telemetry (a SERVER span active while the handler runs, and the per-RPC metrics: telemetry-rpc.ts).

import {
  status as grpcStatus,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { context } from "@opentelemetry/api";
import { once } from "node:events";
import { createCallScope, deadlineMs, type CallContext, type CallScope, type ServerCall } from "./call-context.js";
import type { CallTracker } from "./call-tracker.js";
import { toStatus, type ServerErrorStatus } from "./error-status.js";
import { DeadlineExceededError, ExpertMeshError, UnavailableError } from "./errors.js";
import type { Logger } from "./logger.js";
import { UndecodableRequest } from "./request-decoding.js";
import type { RpcObserver } from "./telemetry-rpc.js";
import {
  serviceName,
  type BidiStreamingHandler,
  type ServerStreamingHandler,
  type ServiceRegistration,
  type UnaryHandler,
} from "./service.js";

/** Observes nothing (health calls). */
const UNOBSERVED: RpcObserver = { start: () => ({ context: context.active(), end: () => {} }) };

/** Turns a registration's async handlers into a grpc-js implementation; `observer` sees every call. */
export function bindService(
  registration: ServiceRegistration,
  tracker: CallTracker,
  logger: Logger,
  observer: RpcObserver = UNOBSERVED,
): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  const name = registration.name ?? serviceName(registration.definition);
  for (const [key, method] of Object.entries(registration.definition)) {
    const handler = registration.implementation[key];
    if (typeof handler !== "function") throw new TypeError(`${name}: no handler for ${method.path}`);
    if (method.requestStream && !method.responseStream) {
      throw new TypeError(`${method.path}: client-streaming methods are not supported by createServer yet`);
    }
    const fn = handler.bind(registration.implementation); // class-based implementations keep `this`
    out[key] = method.requestStream
      ? bidiStreaming(method.path, fn as BidiStreamingHandler<unknown, unknown>, tracker, logger, observer)
      : method.responseStream
        ? serverStreaming(method.path, fn as ServerStreamingHandler<unknown, unknown>, tracker, logger, observer)
        : unary(method.path, fn as UnaryHandler<unknown, unknown>, tracker, logger, observer);
  }
  return out;
}

function unary(
  path: string,
  handler: UnaryHandler<unknown, unknown>,
  tracker: CallTracker,
  logger: Logger,
  observer: RpcObserver,
): UntypedHandleCall {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const rpc = observer.start(path, call.metadata);
    const scope = admit(call, path, tracker);
    if (!("ctx" in scope)) {
      rpc.end(scope.code, scope.details);
      return callback(scope);
    }
    Promise.resolve()
      .then(() => context.with(rpc.context, handler, undefined, call.request, scope.ctx))
      .then(
        (response) => {
          rpc.end(grpcStatus.OK);
          callback(null, response);
        },
        (error: unknown) => {
          const status = failure(error, scope.ctx, logger);
          rpc.end(status.code, error);
          callback(status);
        },
      )
      .finally(() => release(scope, tracker));
  };
}

function serverStreaming(
  path: string,
  handler: ServerStreamingHandler<unknown, unknown>,
  tracker: CallTracker,
  logger: Logger,
  observer: RpcObserver,
): UntypedHandleCall {
  return (call: ServerWritableStream<unknown, unknown>) =>
    streamCall(call, path, tracker, logger, observer, async (ctx) => {
      // for-await calls the generator's return() when the loop exits early, so its finally blocks run.
      for await (const response of handler(call.request, ctx)) {
        if (ctx.signal.aborted) break;
        if (!call.write(response)) await once(call, "drain", { signal: ctx.signal });
      }
    });
}

function bidiStreaming(
  path: string,
  handler: BidiStreamingHandler<unknown, unknown>,
  tracker: CallTracker,
  logger: Logger,
  observer: RpcObserver,
): UntypedHandleCall {
  return (call: ServerDuplexStream<unknown, unknown>) =>
    streamCall(call, path, tracker, logger, observer, (ctx) => {
      const send = async (response: unknown): Promise<void> => {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (!call.write(response)) await once(call, "drain", { signal: ctx.signal });
      };
      // A cancelled call ends the client's messages, so the handler's loop ends too.
      const requests = (async function* () {
        const onAbort = (): void => void call.destroy();
        ctx.signal.addEventListener("abort", onAbort, { once: true });
        try {
          // Not `for await (... of call)`: leaving that loop early destroys the call, and the status (an
          // error's, or OK once the handler returns) would never be sent.
          for await (const message of call.iterator({ destroyOnReturn: false })) {
            // A message that does not decode ends the stream with INVALID_ARGUMENT, as a unary call would.
            if (message instanceof UndecodableRequest) throw message.toError(path);
            yield message;
          }
        } catch (error) {
          if (error instanceof UndecodableRequest || !ctx.signal.aborted) throw error;
        } finally {
          ctx.signal.removeEventListener("abort", onAbort);
        }
      })();
      return handler({ requests, send, draining: tracker.drainSignal }, ctx);
    });
}

/**
 * The life of a streaming call, whichever way its messages go: admitted or refused, `body` run in the
 * SERVER span's context, then OK, or the failure's status. A stream cut short by cancellation or the
 * deadline must not end with OK.
 */
function streamCall(
  call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
  path: string,
  tracker: CallTracker,
  logger: Logger,
  observer: RpcObserver,
  body: (ctx: CallContext) => Promise<void>,
): void {
  const rpc = observer.start(path, call.metadata);
  const scope = admit(call, path, tracker);
  if (!("ctx" in scope)) {
    rpc.end(scope.code, scope.details);
    call.emit("error", scope);
    return;
  }
  const { ctx } = scope;
  context
    .with(rpc.context, () => body(ctx))
    .then(() => {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      rpc.end(grpcStatus.OK);
      call.end();
    })
    .catch((error: unknown) => {
      const status = failure(error, ctx, logger);
      rpc.end(status.code, error);
      call.emit("error", status);
    })
    .finally(() => release(scope, tracker));
}

/** Starts a call: refused while draining or when its deadline has already passed. */
function admit(call: ServerCall, path: string, tracker: CallTracker): CallScope | ServerErrorStatus {
  if ("request" in call && call.request instanceof UndecodableRequest) return toStatus(call.request.toError(path));
  if (tracker.draining) {
    return toStatus(new UnavailableError(`server is draining; ${path} refused`, { reason: "DRAINING" }));
  }
  if (deadlineMs(call.getDeadline()) <= Date.now()) {
    return toStatus(new DeadlineExceededError(`${path}: deadline passed before the call started`));
  }
  const scope = createCallScope(call, path);
  tracker.add(scope);
  return scope;
}

function release(scope: CallScope, tracker: CallTracker): void {
  scope.dispose();
  tracker.delete(scope);
}

/** The status for a handler's failure; the signal's reason wins when the failure came from aborting. */
function failure(error: unknown, ctx: CallContext, logger: Logger): ServerErrorStatus {
  let cause = error;
  if (ctx.signal.aborted && !(error instanceof ExpertMeshError)) cause = ctx.signal.reason;
  if (!(cause instanceof ExpertMeshError)) logger.error("handler failed", { method: ctx.method, error: cause });
  return toStatus(cause);
}
