// initTelemetry: the one place where tracing is configured, from the environment, at the top of each
// service's main.ts (and of each worker thread that makes calls or spans of its own):
//   EXPERTMESH_TRACE_FILE=path        finished spans appended as JSON lines (telemetry-file.ts)
//   OTEL_EXPORTER_OTLP_ENDPOINT=url   OTLP/HTTP (JSON) to a collector's port 4318 (…/v1/traces is appended;
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is); OTEL_EXPORTER_OTLP_HEADERS etc. are read by the exporter
//   neither, or OTEL_SDK_DISABLED=true: no provider is registered and every span is a no-op
// Also read: OTEL_SERVICE_NAME (overrides serviceName), OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG)
// (default: parent-based, always on), OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT (ms, default 10 s, retries
// included), OTEL_BSP_* (the OTLP batch processor).
// No auto-instrumentation: createServer's handler wrapper and channelOptions()'s interceptor instrument
// every RPC, so initTelemetry may run after other imports. A telemetry failure never fails a request:
// errors go to OpenTelemetry's global error handler, which logs them (at most one line per 10 s).

import { context, diag, DiagLogLevel, propagation, trace, type Attributes, type Context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  CompositePropagator,
  globalErrorHandler,
  parseKeyPairsIntoRecord,
  setGlobalErrorHandler,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import { jsonLogger, type Logger } from "./logger.js";
import { JsonLinesSpanProcessor } from "./telemetry-file.js";

export const TRACE_FILE_ENV = "EXPERTMESH_TRACE_FILE";
const ERROR_LOG_INTERVAL_MS = 10_000;

export interface TelemetryOptions {
  /** service.name of the spans, e.g. "router", "expert-shard", "predictor". */
  readonly serviceName: string;
  /** Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where telemetry's own errors are logged; default a JSON logger named `serviceName`. */
  readonly logger?: Logger;
  /** An extra exporter (tests, custom backends), fed span by span; it turns tracing on by itself. */
  readonly exporter?: SpanExporter;
  /** Extra resource attributes, e.g. { "service.instance.id": "expert-shard-0" }. */
  readonly attributes?: Attributes;
}

export interface Telemetry {
  readonly serviceName: string;
  /** Whether spans are recorded (an exporter is configured). */
  readonly tracing: boolean;
  /** What receives the spans, e.g. ["file:/tmp/t.jsonl", "otlp:http://collector:4318/v1/traces"]. */
  readonly exporters: readonly string[];
  /** Exports the spans that have ended so far. */
  forceFlush(): Promise<void>;
  /** Flushes, then unregisters everything (initTelemetry may be called again). */
  shutdown(): Promise<void>;
}

let active: Telemetry | undefined;

/**
 * Configures tracing for this process (this thread) from the environment. A second call returns the
 * first's handle until that is shut down.
 */
export function initTelemetry(options: TelemetryOptions): Telemetry {
  if (active !== undefined) return active;
  const env = options.env ?? process.env;
  const logger = options.logger ?? jsonLogger(options.serviceName);
  const serviceName = nonEmpty(env.OTEL_SERVICE_NAME) ?? options.serviceName;
  const processors: SpanProcessor[] = [];
  const exporters: string[] = [];

  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== "true") {
    const file = nonEmpty(env[TRACE_FILE_ENV]);
    if (file !== undefined) {
      processors.push(new JsonLinesSpanProcessor(file));
      exporters.push(`file:${file}`);
    }
    const url = otlpUrl(env);
    if (url !== undefined) {
      const timeout = Number(nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_TIMEOUT) ?? NaN);
      processors.push(new BatchSpanProcessor(otlpExporter(url, Number.isFinite(timeout) && timeout > 0 ? timeout : undefined)));
      exporters.push(`otlp:${url}`);
    }
    if (options.exporter !== undefined) {
      processors.push(new SimpleSpanProcessor(options.exporter));
      exporters.push("custom");
    }
  }
  if (processors.length === 0) {
    return (active = disabled(serviceName));
  }

  setGlobalErrorHandler(rateLimitedErrorHandler(logger));
  diag.setLogger(diagLogger(logger), DiagLogLevel.WARN);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      "service.name": serviceName,
      "service.instance.id": `${hostname()}:${process.pid}`,
      ...parseKeyPairsIntoRecord(env.OTEL_RESOURCE_ATTRIBUTES),
      ...options.attributes,
    }),
    spanProcessors: processors.map(guarded),
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);

  let stopping: Promise<void> | undefined;
  const telemetry: Telemetry = {
    serviceName,
    tracing: true,
    exporters,
    forceFlush: () => provider.forceFlush().catch((error: unknown) => globalErrorHandler(error as Error)),
    shutdown: () =>
      (stopping ??= provider
        .shutdown()
        .catch((error: unknown) => globalErrorHandler(error as Error))
        .finally(() => {
          trace.disable();
          context.disable();
          propagation.disable();
          diag.disable();
          if (active === telemetry) active = undefined;
        })),
  };
  logger.info("tracing on", { serviceName, exporters });
  return (active = telemetry);
}

/** Exports what has ended so far, waiting at most `timeoutMs`; nothing to do when tracing is off. */
export async function flushTelemetry(timeoutMs = 5_000): Promise<void> {
  if (active === undefined || !active.tracing) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([active.forceFlush(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()))]);
  clearTimeout(timer);
}

function disabled(serviceName: string): Telemetry {
  const telemetry: Telemetry = {
    serviceName,
    tracing: false,
    exporters: [],
    forceFlush: async () => {},
    shutdown: async () => {
      if (active === telemetry) active = undefined;
    },
  };
  return telemetry;
}

function otlpUrl(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const traces = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (traces !== undefined) return traces;
  const base = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  return base === undefined ? undefined : `${base.replace(/\/+$/, "")}/v1/traces`;
}

/** Loaded only when configured: the OTLP exporter takes ~0.1 s to import. */
function otlpExporter(url: string, timeoutMillis: number | undefined): SpanExporter {
  const require = createRequire(import.meta.url);
  const { OTLPTraceExporter } =
    require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http");
  return new OTLPTraceExporter({ url, ...(timeoutMillis !== undefined ? { timeoutMillis } : {}) });
}

/** A span processor whose synchronous failures are reported instead of thrown into the caller's span.end(). */
function guarded(processor: SpanProcessor): SpanProcessor {
  return {
    onStart(span: Span, parentContext: Context) {
      try {
        processor.onStart(span, parentContext);
      } catch (error) {
        globalErrorHandler(error as Error);
      }
    },
    onEnd(span: ReadableSpan) {
      try {
        processor.onEnd(span);
      } catch (error) {
        globalErrorHandler(error as Error);
      }
    },
    forceFlush: () => Promise.resolve().then(() => processor.forceFlush()),
    shutdown: () => Promise.resolve().then(() => processor.shutdown()),
  };
}

function rateLimitedErrorHandler(logger: Logger): (error: unknown) => void {
  let lastLogged = -Infinity;
  let suppressed = 0;
  return (error) => {
    const now = Date.now();
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    lastLogged = now;
    logger.warn("telemetry error (requests are not affected)", { error, suppressedSinceLast: suppressed });
    suppressed = 0;
  };
}

function diagLogger(logger: Logger) {
  const log = (message: string, ...args: unknown[]) => logger.warn(`opentelemetry: ${message}`, args.length ? { args } : {});
  return { error: log, warn: log, info: () => {}, debug: () => {}, verbose: () => {} };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}
