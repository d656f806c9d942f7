// Observability of a real mesh: one trace id covers a request's spans on every service, and each
// service's /metrics endpoint counts what happened.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { freePort, startMesh } from "@expertmesh/cli/launcher";
import type { SpanRecord } from "@expertmesh/runtime";

test("one trace id covers the request's spans on the router, the predictor and every shard it used", async () => {
  const traceFile = join(mkdtempSync(join(tmpdir(), "trace-")), "spans.jsonl");
  const metricsPort = await freePort();
  const mesh = await startMesh({
    shards: 2,
    replicas: 1,
    deviceBudget: "50%",
    policy: "expertflow", // its shards use hints, so the router asks the predictor (lru shards do not)
    predictor: true,
    env: { EXPERTMESH_TRACE_FILE: traceFile },
    routerArgs: ["--metrics-port", String(metricsPort)],
  });
  const client = new ExpertMeshClient(mesh.router.address, mesh.clientOptions);
  try {
    const r = await client.complete("The state of the Union is", { maxTokens: 6 });
    assert.equal(r.tokenIds.length, 6);
    const info = await client.modelInfo();
    assert.match(info.predictor, /\((baseline|trained)\): \(token, position\) -> 4 x 16 \(top-2\)/);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /expertmesh_rpc_requests_total\{[^}]*grpc_method="Complete"[^}]*grpc_code="OK"[^}]*\} 1/);
    assert.match(metrics, /expertmesh:generation_tokens_total\{model_name="sotu-moe"\} 6/);
  } finally {
    client.close();
    await mesh.stop(); // processes flush their spans on exit
  }
  const spans: SpanRecord[] = readFileSync(traceFile, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const root = spans.find((s) => s.name === "expertmesh.v1.InferenceService/Complete");
  assert.ok(root, "the router's server span");
  const trace = spans.filter((s) => s.traceId === root.traceId);
  const services = new Set(trace.map((s) => s.service));
  assert.ok(services.has("router") && services.has("expert-shard") && services.has("predictor"), [...services].join(","));
  assert.ok(trace.some((s) => s.service === "predictor" && s.name === "expertmesh.v1.PredictorService/PredictRoutes"));
  // One span per expert call: a unary RunExperts, or a call on the DispatchExperts stream.
  const shardSpans = trace.filter(
    (s) => s.service === "expert-shard" && (s.name === "expertmesh.v1.ExpertShardService/RunExperts" || s.name === "expert-shard.call"),
  );
  const shardPids = new Set(shardSpans.map((s) => s.pid));
  assert.equal(shardPids.size, 2, "both shards served the request under the same trace");
  assert.ok(
    trace.some((s) => s.name === "router.dispatch"),
    "per-layer dispatch spans",
  );
  assert.ok(trace.some((s) => s.name === "router.prefill") && trace.some((s) => s.name === "router.decode"));
});
