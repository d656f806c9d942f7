// Instrumentation of every RPC, in the two places that every RPC passes: the handler wrapper
// (handlers.ts) on the server side, and a grpc-js interceptor on the client side (`channelOptions()`
// installs it). Server: a SERVER span whose parent is the traceparent in the request metadata, active
// while the handler runs, and the request counter, latency histogram and in-flight gauge. Client: a
// CLIENT span, child of the active context, whose traceparent goes out in the call's metadata.
// Health calls (grpc.health.v1) are left out of both. Instrumentation never fails a call: its own
// errors go to OpenTelemetry's global error handler.

import { InterceptingCall, status as grpcStatus, type Interceptor, type Metadata, type StatusObject } from "@grpc/grpc-js";
import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type Span } from "@opentelemetry/api";
import { globalErrorHandler } from "@opentelemetry/core";
import type { MeshMetrics } from "./metrics-registry.js";
import { metadataGetter, metadataSetter, runtimeTracer } from "./telemetry-trace.js";

const HEALTH_PREFIX = "/grpc.health.v1.";

/** One server call being observed. */
export interface RpcObservation {
  /** Context for the handler (the SERVER span is its active span). */
  readonly context: Context;
  /** Ends the span and records the metrics; idempotent. */
  end(code: grpcStatus, error?: unknown): void;
}

/** Starts an observation per server call; created once per server. */
export interface RpcObserver {
  start(path: string, metadata: Metadata): RpcObservation;
}

/** gRPC codes for which a SERVER span's status is ERROR (the others are the client's doing). */
const SERVER_ERRORS = new Set<grpcStatus>([
  grpcStatus.UNKNOWN,
  grpcStatus.DEADLINE_EXCEEDED,
  grpcStatus.UNIMPLEMENTED,
  grpcStatus.INTERNAL,
  grpcStatus.UNAVAILABLE,
  grpcStatus.DATA_LOSS,
]);

export function rpcObserver(metrics: MeshMetrics): RpcObserver {
  return {
    start(path, metadata) {
      try {
        return startObservation(path, metadata, metrics);
      } catch (error) {
        globalErrorHandler(error as Error);
        return { context: context.active(), end: () => {} };
      }
    },
  };
}

function startObservation(path: string, metadata: Metadata, metrics: MeshMetrics): RpcObservation {
  const started = performance.now();
  const { service, method } = splitPath(path);
  const labels = { grpc_service: service, grpc_method: method };
  metrics.rpcInFlight.inc(labels);
  const parent = propagation.extract(context.active(), metadata, metadataGetter);
  const span = runtimeTracer().startSpan(
    spanName(path),
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method } },
    parent,
  );
  let ended = false;
  return {
    context: trace.setSpan(parent, span),
    end(code, error) {
      if (ended) return;
      ended = true;
      try {
        metrics.rpcInFlight.dec(labels);
        metrics.rpcRequests.inc({ ...labels, grpc_code: grpcStatus[code] ?? String(code) });
        metrics.rpcDuration.observe(labels, (performance.now() - started) / 1000);
        endRpcSpan(span, code, SERVER_ERRORS.has(code), error);
      } catch (e) {
        globalErrorHandler(e as Error);
      }
    },
  };
}

/**
 * A grpc-js client interceptor: a CLIENT span per call (child of the active context when the call is
 * made) and its traceparent in the outgoing metadata. `channelOptions()` adds it to every client; add
 * it yourself (`interceptors: [tracingInterceptor]`) to a client built otherwise. Note that grpc-js
 * drops a client's interceptors for a call that passes its own in the call options.
 */
export const tracingInterceptor: Interceptor = (options, nextCall) => {
  const path = options.method_definition.path;
  if (path.startsWith(HEALTH_PREFIX)) return new InterceptingCall(nextCall(options));
  let span: Span;
  let ctx: Context;
  try {
    const { service, method } = splitPath(path);
    const parent = context.active();
    span = runtimeTracer().startSpan(
      spanName(path),
      { kind: SpanKind.CLIENT, attributes: { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method } },
      parent,
    );
    ctx = trace.setSpan(parent, span);
  } catch (error) {
    globalErrorHandler(error as Error);
    return new InterceptingCall(nextCall(options));
  }
  return new InterceptingCall(nextCall(options), {
    start(metadata, _listener, next) {
      try {
        propagation.inject(ctx, metadata, metadataSetter);
      } catch (error) {
        globalErrorHandler(error as Error);
      }
      next(metadata, {
        onReceiveStatus(status: StatusObject, nextStatus: (status: StatusObject) => void) {
          try {
            endRpcSpan(span, status.code, status.code !== grpcStatus.OK, status.code === grpcStatus.OK ? undefined : status.details);
          } catch (error) {
            globalErrorHandler(error as Error);
          }
          nextStatus(status);
        },
      });
    },
  });
};

function endRpcSpan(span: Span, code: grpcStatus, isError: boolean, error: unknown): void {
  if (!span.isRecording()) {
    span.end();
    return;
  }
  span.setAttribute("rpc.grpc.status_code", code);
  if (isError) {
    const message = error instanceof Error ? error.message : typeof error === "string" ? error : (grpcStatus[code] ?? String(code));
    if (error instanceof Error) span.setAttribute("error.type", error.name);
    else span.setAttribute("error.type", grpcStatus[code] ?? String(code));
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  span.end();
}

/** "/pkg.Service/Method" → service "pkg.Service", method "Method". */
function splitPath(path: string): { service: string; method: string } {
  const slash = path.lastIndexOf("/");
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

/** OpenTelemetry's name for an RPC span: "pkg.Service/Method" (the path without its leading slash). */
export function spanName(path: string): string {
  return path.startsWith("/") ? path.slice(1) : path;
}
