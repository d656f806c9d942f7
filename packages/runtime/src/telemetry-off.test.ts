// With no exporter configured, tracing is off: nothing is written, no trace context is made or
// propagated, and calls (including downstream ones) work as before.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { silentLogger } from "./logger.js";
import { MeshMetrics } from "./metrics-registry.js";
import { initTelemetry } from "./telemetry-init.js";
import { currentTraceparent, traceMetadata, withSpan } from "./telemetry-trace.js";
import { forwardingPair, runExperts, type ForwardingPair } from "./testing-telemetry.js";
import { float32Tensor } from "./tensor.js";

const dir = mkdtempSync(join(tmpdir(), "expertmesh-telemetry-off-"));
let pair: ForwardingPair;
const request = { layer: 0, inputs: [{ expertId: 1, hiddenStates: float32Tensor(new Float32Array(16).fill(0.5), [1, 16]) }] };

before(async () => {
  pair = await forwardingPair({ metrics: new MeshMetrics() });
});

after(() => {
  pair.close();
  rmSync(dir, { recursive: true, force: true });
});

test("no exporter in the environment: tracing is off, no context is made, calls through A → B work", async () => {
  const telemetry = initTelemetry({ serviceName: "off-test", env: {}, logger: silentLogger });
  try {
    assert.equal(telemetry.tracing, false);
    assert.deepEqual(telemetry.exporters, []);
    const response = await withSpan("not-recorded", {}, (span) => {
      assert.equal(span.isRecording(), false);
      assert.equal(currentTraceparent(), undefined);
      assert.equal(traceMetadata().get("traceparent").length, 0);
      return runExperts(pair.client, request);
    });
    assert.equal(response.outputs.length, 1);
  } finally {
    await telemetry.shutdown();
  }
});

test("OTEL_SDK_DISABLED=true wins over EXPERTMESH_TRACE_FILE: no file is written", async () => {
  const file = join(dir, "spans.jsonl");
  const telemetry = initTelemetry({
    serviceName: "off-test",
    env: { OTEL_SDK_DISABLED: "true", EXPERTMESH_TRACE_FILE: file },
    logger: silentLogger,
  });
  try {
    assert.equal(telemetry.tracing, false);
    await withSpan("not-recorded", {}, () => runExperts(pair.client, request));
    await telemetry.forceFlush();
    assert.equal(existsSync(file), false);
  } finally {
    await telemetry.shutdown();
  }
});

test("after shutdown, initTelemetry can turn tracing on again; before it, a second call returns the same handle", async () => {
  const first = initTelemetry({ serviceName: "off-test", env: {}, logger: silentLogger });
  assert.equal(initTelemetry({ serviceName: "other", env: {}, logger: silentLogger }), first);
  await first.shutdown();
  const file = join(dir, "again.jsonl");
  const second = initTelemetry({ serviceName: "off-test", env: { EXPERTMESH_TRACE_FILE: file }, logger: silentLogger });
  try {
    assert.equal(second.tracing, true);
    await withSpan("recorded", {}, () => runExperts(pair.client, request));
    await second.forceFlush();
    assert.equal(existsSync(file), true);
  } finally {
    await second.shutdown();
  }
  assert.equal(
    withSpan("after-shutdown", {}, (span) => span.isRecording()),
    false,
  );
});
