// Tracing across real loopback gRPC: a client → server A → (downstream) server B, spans written to a
// trace file by EXPERTMESH_TRACE_FILE, plus a worker thread that continues the trace from a string.
import { status, type ServiceError } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Worker } from "node:worker_threads";
import { silentLogger } from "./logger.js";
import { MeshMetrics } from "./metrics-registry.js";
import { initTelemetry, type Telemetry } from "./telemetry-init.js";
import type { SpanRecord } from "./telemetry-file.js";
import { contextFromTraceparent, currentTraceparent, traceMetadata, withSpan, withTraceparent } from "./telemetry-trace.js";
import { forwardingPair, readSpans, runExperts, type ForwardingPair } from "./testing-telemetry.js";
import { float32Tensor } from "./tensor.js";
import { trace } from "@opentelemetry/api";
import { FinishReason, InferenceServiceClient, InferenceServiceService } from "@expertmesh/proto";
import { credentials, Metadata } from "@grpc/grpc-js";
import { channelOptions } from "./limits.js";
import { createServer } from "./server.js";
import { service } from "./service.js";

const dir = mkdtempSync(join(tmpdir(), "expertmesh-telemetry-"));
const file = join(dir, "spans.jsonl");
const env = { EXPERTMESH_TRACE_FILE: file };
let telemetry: Telemetry;
let pair: ForwardingPair;

const SHARD = "expertmesh.v1.ExpertShardService";
const RUN = `${SHARD}/RunExperts`;
const request = (layer: number) => ({
  layer,
  inputs: [{ expertId: 1, hiddenStates: float32Tensor(new Float32Array(16).fill(0.5), [1, 16]) }],
});

before(async () => {
  telemetry = initTelemetry({ serviceName: "telemetry-test", env, logger: silentLogger });
  pair = await forwardingPair({ metrics: new MeshMetrics() });
});

after(async () => {
  pair.close();
  await telemetry.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** The spans of the trace that contains a span named `name` with attribute layer = `layer`. */
async function traceOf(name: string, layer: number): Promise<SpanRecord[]> {
  await telemetry.forceFlush();
  const spans = readSpans(file);
  const anchor = spans.find((s) => s.name === name && s.attributes["expertmesh.layer"] === layer);
  assert.ok(anchor, `no span ${name} for layer ${layer} among ${spans.length}`);
  return spans.filter((s) => s.traceId === anchor.traceId);
}

function one(spans: SpanRecord[], name: string, kind: SpanRecord["kind"]): SpanRecord {
  const found = spans.filter((s) => s.name === name && s.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind} span ${name}, got ${found.length}`);
  return found[0];
}

test("tracing is on with the file exporter named by EXPERTMESH_TRACE_FILE", () => {
  assert.equal(telemetry.tracing, true);
  assert.deepEqual(telemetry.exporters, [`file:${file}`]);
});

test("client → A → B is one trace: B's SERVER span is the child of A's CLIENT span, itself under A's withSpan and SERVER span", async () => {
  await runExperts(pair.client, request(0));
  const spans = await traceOf("a.forward", 0);
  const servers = spans.filter((s) => s.name === RUN && s.kind === "SERVER");
  const clients = spans.filter((s) => s.name === RUN && s.kind === "CLIENT");
  assert.equal(servers.length, 2);
  assert.equal(clients.length, 2);
  const root = clients.find((s) => s.parentSpanId === undefined); // the test's own call
  assert.ok(root, "the test's CLIENT span is the root");
  const a = servers.find((s) => s.parentSpanId === root.spanId);
  assert.ok(a, "A's SERVER span is the child of the test's CLIENT span");
  const forward = one(spans, "a.forward", "INTERNAL");
  const aToB = clients.find((s) => s !== root)!;
  const b = servers.find((s) => s !== a)!;
  assert.equal(forward.parentSpanId, a.spanId, "withSpan's span is a child of A's SERVER span");
  assert.equal(aToB.parentSpanId, forward.spanId, "the downstream CLIENT span is a child of the active withSpan span");
  assert.equal(b.parentSpanId, aToB.spanId, "B's SERVER span continues the trace from the metadata");
  assert.equal(new Set(spans.map((s) => s.traceId)).size, 1);
  assert.equal(spans.length, 5);
  for (const s of [a, b]) {
    assert.deepEqual(
      [s.attributes["rpc.system"], s.attributes["rpc.service"], s.attributes["rpc.method"], s.attributes["rpc.grpc.status_code"]],
      ["grpc", SHARD, "RunExperts", status.OK],
    );
    assert.equal(s.status.code, "UNSET");
    assert.equal(s.service, "telemetry-test");
  }
  assert.ok(spans.every((s) => s.durationMs >= 0 && s.end >= s.start));
});

test("a failed call records its gRPC code: ERROR for server faults and for clients, UNSET for a server's INVALID_ARGUMENT", async () => {
  // Layer 9 is out of range for B: INVALID_ARGUMENT there; A (which forwards before checking) rethrows
  // the downstream ServiceError, which is not an ExpertMeshError: INTERNAL.
  await assert.rejects(runExperts(pair.client, request(9)), (error: ServiceError) => error.code === status.INTERNAL);
  const spans = await traceOf("a.forward", 9);
  const forward = one(spans, "a.forward", "INTERNAL");
  const aToB = spans.find((s) => s.kind === "CLIENT" && s.parentSpanId === forward.spanId)!;
  const b = spans.find((s) => s.kind === "SERVER" && s.parentSpanId === aToB.spanId)!;
  const a = spans.find((s) => s.kind === "SERVER" && s.spanId === forward.parentSpanId)!;
  const root = spans.find((s) => s.kind === "CLIENT" && s.parentSpanId === undefined)!;
  assert.deepEqual([b.attributes["rpc.grpc.status_code"], b.status.code], [status.INVALID_ARGUMENT, "UNSET"]);
  assert.deepEqual([aToB.attributes["rpc.grpc.status_code"], aToB.status.code], [status.INVALID_ARGUMENT, "ERROR"]);
  assert.deepEqual([a.attributes["rpc.grpc.status_code"], a.status.code], [status.INTERNAL, "ERROR"]);
  assert.deepEqual([root.attributes["rpc.grpc.status_code"], root.status.code], [status.INTERNAL, "ERROR"]);
  assert.equal(forward.status.code, "ERROR");
  assert.ok(
    forward.events?.some((e) => e.name === "exception"),
    "withSpan records the exception it rethrows",
  );
});

test("withSpan nests synchronously and asynchronously, returns fn's value and rethrows its error", async () => {
  const value = await withSpan("outer", { "expertmesh.layer": 100 }, async () => {
    const inner = withSpan("inner-sync", {}, () => 7);
    await withSpan("inner-async", {}, async () => new Promise((resolve) => setTimeout(resolve, 5)));
    assert.throws(
      () =>
        withSpan("inner-throws", {}, () => {
          throw new RangeError("boom");
        }),
      RangeError,
    );
    return inner * 6;
  });
  assert.equal(value, 42);
  const spans = await traceOf("outer", 100);
  const outer = one(spans, "outer", "INTERNAL");
  assert.equal(outer.parentSpanId, undefined);
  for (const name of ["inner-sync", "inner-async", "inner-throws"]) assert.equal(one(spans, name, "INTERNAL").parentSpanId, outer.spanId);
  const thrown = one(spans, "inner-throws", "INTERNAL");
  assert.deepEqual([thrown.status.code, thrown.status.message, thrown.attributes["error.type"]], ["ERROR", "boom", "RangeError"]);
});

test("a traceparent string round-trips: currentTraceparent → contextFromTraceparent gives the same span context", () => {
  assert.equal(currentTraceparent(), undefined, "no active span: no traceparent");
  withSpan("roundtrip", {}, (span) => {
    const traceparent = currentTraceparent();
    assert.match(traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const restored = trace.getSpanContext(contextFromTraceparent(traceparent));
    assert.equal(restored?.traceId, span.spanContext().traceId);
    assert.equal(restored?.spanId, span.spanContext().spanId);
    assert.equal(restored?.isRemote, true);
    withTraceparent(traceparent, () => assert.equal(currentTraceparent(), traceparent));
    assert.deepEqual(traceMetadata().get("traceparent"), [traceparent], "traceMetadata carries it for hand-made calls");
  });
  assert.equal(trace.getSpanContext(contextFromTraceparent("garbage")), undefined, "a malformed traceparent gives no parent");
  assert.equal(trace.getSpanContext(contextFromTraceparent(undefined)), undefined);
});

test("a worker thread continues the trace from a traceparent in its message, and its calls join it", async () => {
  const worker = new Worker(new URL("./testing-trace-worker.js", import.meta.url), { workerData: { env, address: pair.b.address } });
  try {
    const reply = await withSpan("main.step", { "expertmesh.layer": 200 }, async () => {
      const answer = new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      });
      worker.postMessage({ traceparent: currentTraceparent() });
      return answer;
    });
    assert.deepEqual(reply, { ok: true });
  } finally {
    await worker.terminate();
  }
  const spans = await traceOf("main.step", 200);
  const step = one(spans, "main.step", "INTERNAL");
  const dispatch = one(spans, "worker.dispatch", "INTERNAL");
  const call = one(spans, RUN, "CLIENT");
  const b = one(spans, RUN, "SERVER");
  assert.equal(dispatch.parentSpanId, step.spanId);
  assert.equal(call.parentSpanId, dispatch.spanId);
  assert.equal(b.parentSpanId, call.spanId);
  assert.notEqual(dispatch.thread, step.thread, "the dispatch span was recorded in the worker");
  assert.equal(dispatch.service, "worker-test");
});

test("withSpan's links put a batched step in the traces of the requests it serves", async () => {
  const parents = [withSpan("request-1", {}, () => currentTraceparent()), withSpan("request-2", {}, () => currentTraceparent())];
  withTraceparent(parents[0], () =>
    withSpan("batched-step", { "expertmesh.layer": 300 }, () => {}, { links: [parents[1], "malformed", undefined] }),
  );
  const spans = await traceOf("batched-step", 300);
  const step = one(spans, "batched-step", "INTERNAL");
  assert.equal(step.traceId, parents[0]!.split("-")[1]);
  assert.equal(step.parentSpanId, parents[0]!.split("-")[2]);
  assert.deepEqual(step.links, [{ traceId: parents[1]!.split("-")[1], spanId: parents[1]!.split("-")[2] }]);
});

test("a server stream's SERVER span is active in the generator and ends with the stream", async () => {
  const notUsed = () => {
    throw new Error("not used");
  };
  const server = await createServer({
    name: "stream-test",
    services: [
      service(InferenceServiceService, {
        generate: async function* (request) {
          for (let i = 0; i < 3; i++) {
            await withSpan("token", { "expertmesh.layer": 400, i }, () => new Promise((resolve) => setImmediate(resolve)));
            yield { tokenIds: [i], text: request.prompt, finishReason: FinishReason.FINISH_REASON_UNSPECIFIED, usage: undefined };
          }
        },
        complete: notUsed,
        tokenize: notUsed,
        modelInfo: notUsed,
      }),
    ],
    signals: [],
    logger: silentLogger,
    metrics: new MeshMetrics(),
  });
  const client = new InferenceServiceClient(server.address, credentials.createInsecure(), channelOptions());
  try {
    await new Promise<void>((resolve, reject) => {
      const call = client.generate({ model: "", prompt: "x", sampling: undefined }, new Metadata());
      call.on("data", () => {});
      call.on("error", reject);
      call.on("end", resolve);
    });
    const spans = await traceOf("token", 400);
    const GENERATE = "expertmesh.v1.InferenceService/Generate";
    const serverSpan = one(spans, GENERATE, "SERVER");
    const clientSpan = one(spans, GENERATE, "CLIENT");
    assert.equal(serverSpan.parentSpanId, clientSpan.spanId);
    const tokens = spans.filter((s) => s.name === "token");
    assert.equal(tokens.length, 3);
    assert.ok(tokens.every((t) => t.parentSpanId === serverSpan.spanId));
    assert.equal(serverSpan.attributes["rpc.grpc.status_code"], status.OK);
  } finally {
    client.close();
    server.forceShutdown();
  }
});
