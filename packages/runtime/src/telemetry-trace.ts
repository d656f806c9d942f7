// Tracing helpers for handlers and for code that crosses a thread: child spans (`withSpan`), the
// W3C traceparent of the active span as a string (`currentTraceparent`) and back (`withTraceparent`,
// `contextFromTraceparent`), and outgoing gRPC metadata that continues the trace (`traceMetadata`).
// All of them go through the global OpenTelemetry API: before `initTelemetry` (or with tracing off)
// they cost a no-op span and nothing is recorded.

import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import { Metadata } from "@grpc/grpc-js";

/** Name of the tracer that the runtime's own spans are recorded under. */
export const TRACER_NAME = "@expertmesh/runtime";
const TRACEPARENT = "traceparent";
const TRACESTATE = "tracestate";

/** The runtime's tracer (a proxy: it follows the provider that initTelemetry registers). */
export function runtimeTracer() {
  return trace.getTracer(TRACER_NAME);
}

export interface WithSpanOptions {
  /** Default INTERNAL. */
  readonly kind?: SpanKind;
  /**
   * Traces this span also belongs to, as traceparent strings (a batched step serving requests from
   * several traces: the span is a child of the active one and links to the others). Invalid ones are skipped.
   */
  readonly links?: readonly (string | undefined)[];
}

/**
 * Runs `fn` inside a new span, child of the active one, and ends the span when `fn` returns or its
 * promise settles. A throw (or rejection) is recorded on the span (status ERROR) and rethrown.
 *   await withSpan("router.dispatch", { "expertmesh.layer": l }, () => pool.run(l, work));
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => T, options: WithSpanOptions = {}): T {
  const links = options.links?.length ? linksFromTraceparents(options.links) : undefined;
  const spanOptions = { kind: options.kind ?? SpanKind.INTERNAL, attributes, ...(links?.length ? { links } : {}) };
  return runtimeTracer().startActiveSpan(name, spanOptions, (span) => {
    let result: T;
    try {
      result = fn(span);
    } catch (error) {
      endWithError(span, error);
      throw error;
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          endWithError(span, error);
          throw error;
        },
      ) as T;
    }
    span.end();
    return result;
  });
}

/**
 * The active span's context as a W3C traceparent ("00-<trace id>-<span id>-<flags>"), to send where
 * OpenTelemetry's context does not follow (a worker thread's message, a NATS hint); undefined when
 * no span is active or tracing is off.
 */
export function currentTraceparent(ctx: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier[TRACEPARENT];
}

/** A context whose remote parent is `traceparent` (undefined or malformed: a context with no parent). */
export function contextFromTraceparent(traceparent: string | undefined, tracestate?: string): Context {
  if (traceparent === undefined || traceparent === "") return ROOT_CONTEXT;
  const carrier: Record<string, string> = { [TRACEPARENT]: traceparent };
  if (tracestate !== undefined) carrier[TRACESTATE] = tracestate;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** Runs `fn` with `traceparent` as the active parent: the receiving side of `currentTraceparent()`. */
export function withTraceparent<T>(traceparent: string | undefined, fn: () => T): T {
  return context.with(contextFromTraceparent(traceparent), fn);
}

/**
 * gRPC metadata carrying the active trace context (traceparent, tracestate, baggage), for a call made
 * without the clients that `channelOptions()` builds (those inject it themselves). Adds to `metadata`
 * when given.
 */
export function traceMetadata(metadata: Metadata = new Metadata(), ctx: Context = context.active()): Metadata {
  propagation.inject(ctx, metadata, metadataSetter);
  return metadata;
}

/** Reads propagation headers from grpc-js Metadata. */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key).filter((v): v is string => typeof v === "string");
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};

/** Writes propagation headers into grpc-js Metadata (replacing what is there). */
export const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

function linksFromTraceparents(traceparents: readonly (string | undefined)[]): Link[] {
  const links: Link[] = [];
  for (const traceparent of traceparents) {
    const spanContext = trace.getSpanContext(contextFromTraceparent(traceparent));
    if (spanContext !== undefined && trace.isSpanContextValid(spanContext)) links.push({ context: spanContext });
  }
  return links;
}

/** Records `error` on `span` (an exception event and status ERROR) and ends it. */
export function endWithError(span: Span, error: unknown): void {
  if (error instanceof Error) {
    span.recordException(error);
    span.setAttribute("error.type", error.name);
  }
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  span.end();
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
