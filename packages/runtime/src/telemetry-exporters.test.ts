// The exporters that initTelemetry configures: OTLP/HTTP reaches a collector; and a telemetry failure
// never fails a request: an exporter that throws, a trace file that cannot be written and an OTLP
// endpoint that refuses connections all leave calls working, and the errors reach the global handler.
import type { ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import type { Logger, LogFields } from "./logger.js";
import { MeshMetrics } from "./metrics-registry.js";
import { initTelemetry } from "./telemetry-init.js";
import { withSpan } from "./telemetry-trace.js";
import { forwardingPair, runExperts, type ForwardingPair } from "./testing-telemetry.js";
import { float32Tensor } from "./tensor.js";

let pair: ForwardingPair;
const request = { layer: 0, inputs: [{ expertId: 1, hiddenStates: float32Tensor(new Float32Array(16).fill(0.5), [1, 16]) }] };

before(async () => {
  pair = await forwardingPair({ metrics: new MeshMetrics() });
});

after(() => pair.close());

function capturingLogger(): Logger & { warnings: { message: string; fields?: LogFields }[] } {
  const warnings: { message: string; fields?: LogFields }[] = [];
  return { warnings, info() {}, error() {}, warn: (message, fields) => void warnings.push({ message, fields }) };
}

async function callsStillWork(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const response = await withSpan("step", {}, () => runExperts(pair.client, request));
    assert.equal(response.outputs.length, 1);
  }
}

test("an exporter that throws does not fail the call; the error is logged once, rate-limited", async () => {
  let exports = 0;
  const throwing: SpanExporter = {
    export(_spans: ReadableSpan[], _done: (result: ExportResult) => void) {
      exports++;
      throw new Error("exporter exploded");
    },
    shutdown: async () => {},
  };
  const logger = capturingLogger();
  const telemetry = initTelemetry({ serviceName: "errors-test", env: {}, exporter: throwing, logger });
  try {
    assert.equal(telemetry.tracing, true);
    await callsStillWork();
    await telemetry.forceFlush();
    assert.ok(exports >= 3 * 6, `every span was offered to the exporter (${exports})`);
    const errors = logger.warnings.filter((w) => w.message.startsWith("telemetry error"));
    assert.equal(errors.length, 1, "one line per 10 s, not one per span");
    assert.match(String((errors[0].fields?.error as Error).message), /exporter exploded/);
  } finally {
    await telemetry.shutdown();
  }
});

test("a trace file that cannot be written does not fail the call", async () => {
  const logger = capturingLogger();
  const telemetry = initTelemetry({
    serviceName: "errors-test",
    env: { EXPERTMESH_TRACE_FILE: "/nonexistent-dir/expertmesh/spans.jsonl" },
    logger,
  });
  try {
    await callsStillWork();
    await telemetry.forceFlush();
    assert.ok(
      logger.warnings.some((w) => w.message.startsWith("telemetry error")),
      "the write failure was reported",
    );
  } finally {
    await telemetry.shutdown();
  }
});

test("an OTLP endpoint that refuses connections does not fail the call", async () => {
  const telemetry = initTelemetry({
    serviceName: "errors-test",
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9/", OTEL_EXPORTER_OTLP_TIMEOUT: "300" }, // discard port: nothing listens
    logger: capturingLogger(),
  });
  try {
    assert.deepEqual(telemetry.exporters, ["otlp:http://127.0.0.1:9/v1/traces"]);
    await callsStillWork();
  } finally {
    await telemetry.shutdown();
  }
});

test("OTEL_EXPORTER_OTLP_ENDPOINT sends the spans to <endpoint>/v1/traces as OTLP/HTTP JSON", async () => {
  const received: { url?: string; type?: string; body: string }[] = [];
  const collector = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push({ url: req.url, type: req.headers["content-type"], body });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
  const { port } = collector.address() as AddressInfo;
  const telemetry = initTelemetry({
    serviceName: "errors-test",
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` },
    logger: capturingLogger(),
  });
  try {
    await callsStillWork();
    await telemetry.forceFlush();
    assert.ok(received.length >= 1);
    assert.deepEqual([received[0].url, received[0].type], ["/v1/traces", "application/json"]);
    const names = received.flatMap((r) =>
      (JSON.parse(r.body) as { resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[] }).resourceSpans.flatMap((rs) =>
        rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => span.name)),
      ),
    );
    assert.ok(names.includes("expertmesh.v1.ExpertShardService/RunExperts") && names.includes("step"), names.join(","));
  } finally {
    await telemetry.shutdown();
    collector.close();
    collector.closeAllConnections();
  }
});
