// Finished spans as JSON lines in a file (EXPERTMESH_TRACE_FILE): what tests and `jq` read where no
// collector runs. Each line is one span (see SpanRecord). Lines are buffered and appended with one
// write every FLUSH_MS (and on forceFlush, shutdown and process exit), so that several processes and
// threads can share one file: an O_APPEND write of a whole buffer is not interleaved with others.

import { SpanKind, SpanStatusCode, type Context } from "@opentelemetry/api";
import { globalErrorHandler, hrTimeToMilliseconds } from "@opentelemetry/core";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { appendFileSync } from "node:fs";
import { threadId } from "node:worker_threads";

const FLUSH_MS = 100;
const MAX_BUFFERED_BYTES = 1 << 20;

/** One line of the trace file. Times are epoch milliseconds (with microsecond fractions). */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  /** Absent for a root span. */
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: "INTERNAL" | "SERVER" | "CLIENT" | "PRODUCER" | "CONSUMER";
  /** service.name of the process that recorded the span. */
  readonly service: string;
  readonly start: number;
  readonly end: number;
  readonly durationMs: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly status: { readonly code: "UNSET" | "OK" | "ERROR"; readonly message?: string };
  readonly events?: readonly { readonly name: string; readonly time: number; readonly attributes?: Readonly<Record<string, unknown>> }[];
  readonly links?: readonly { readonly traceId: string; readonly spanId: string }[];
  readonly pid: number;
  readonly thread: number;
}

export function spanRecord(span: ReadableSpan): SpanRecord {
  const { traceId, spanId } = span.spanContext();
  const start = hrTimeToMilliseconds(span.startTime);
  const end = hrTimeToMilliseconds(span.endTime);
  const record: SpanRecord = {
    traceId,
    spanId,
    ...(span.parentSpanContext ? { parentSpanId: span.parentSpanContext.spanId } : {}),
    name: span.name,
    kind: SpanKind[span.kind] as SpanRecord["kind"],
    service: String(span.resource.attributes["service.name"] ?? "unknown"),
    start,
    end,
    durationMs: hrTimeToMilliseconds(span.duration),
    attributes: span.attributes,
    status: {
      code: SpanStatusCode[span.status.code] as SpanRecord["status"]["code"],
      ...(span.status.message ? { message: span.status.message } : {}),
    },
    ...(span.events.length
      ? {
          events: span.events.map((e) => ({
            name: e.name,
            time: hrTimeToMilliseconds(e.time),
            ...(e.attributes ? { attributes: e.attributes } : {}),
          })),
        }
      : {}),
    ...(span.links.length ? { links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })) } : {}),
    pid: process.pid,
    thread: threadId,
  };
  return record;
}

/** A span processor appending each sampled span, when it ends, to `path` as one JSON line. */
export class JsonLinesSpanProcessor implements SpanProcessor {
  readonly #path: string;
  #lines: string[] = [];
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onExit = (): void => this.#flush();

  constructor(path: string) {
    this.#path = path;
    process.once("exit", this.#onExit);
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#closed || (span.spanContext().traceFlags & 1) === 0) return;
    const line = `${JSON.stringify(spanRecord(span))}\n`;
    this.#lines.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= MAX_BUFFERED_BYTES) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), FLUSH_MS).unref();
  }

  async forceFlush(): Promise<void> {
    this.#flush();
  }

  async shutdown(): Promise<void> {
    this.#flush();
    this.#closed = true;
    process.removeListener("exit", this.#onExit);
  }

  #flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const text = this.#lines.join("");
    this.#lines = [];
    this.#bytes = 0;
    try {
      appendFileSync(this.#path, text);
    } catch (error) {
      globalErrorHandler(error as Error); // the spans are dropped; serving goes on
    }
  }
}
