// Prometheus metrics over real HTTP: createServer's per-RPC metrics, the service metrics and their
// scrape-time sources, and the /healthz, /livez probes.
import { CacheTier, ServingStatus } from "@expertmesh/proto";
import { status, type ServiceError } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { OVERALL } from "./health.js";
import { silentLogger } from "./logger.js";
import { MeshMetrics } from "./metrics-registry.js";
import { startMetricsServer } from "./metrics-server.js";
import { createServer } from "./server.js";
import { float32Tensor } from "./tensor.js";
import { testShardClient, testShardService, unary } from "./testing.js";

const request = (layer: number) => ({
  layer,
  inputs: [{ expertId: 1, hiddenStates: float32Tensor(new Float32Array(16).fill(0.5), [1, 16]) }],
});
const LABELS = 'grpc_service="expertmesh.v1.ExpertShardService",grpc_method="RunExperts"';

/** The value of the sample `series` (name and labels as printed) in a scrape, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("/metrics counts requests by method and status code, with a latency histogram and an in-flight gauge", async () => {
  const metrics = new MeshMetrics();
  const server = await createServer({
    name: "metrics-test",
    services: [testShardService()],
    signals: [],
    logger: silentLogger,
    metrics,
    metricsPort: 0,
  });
  const client = testShardClient(server.address);
  try {
    assert.ok(server.metricsPort !== undefined && server.metricsPort > 0);
    await unary(client.runExperts.bind(client), request(0));
    await unary(client.runExperts.bind(client), request(1));
    await assert.rejects(unary(client.runExperts.bind(client), request(9)), (e: ServiceError) => e.code === status.INVALID_ARGUMENT);
    await unary(client.cacheStats.bind(client), {});

    const response = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.equal(sample(text, `expertmesh_rpc_requests_total{${LABELS},grpc_code="OK"}`), 2);
    assert.equal(sample(text, `expertmesh_rpc_requests_total{${LABELS},grpc_code="INVALID_ARGUMENT"}`), 1);
    assert.equal(
      sample(
        text,
        'expertmesh_rpc_requests_total{grpc_service="expertmesh.v1.ExpertShardService",grpc_method="CacheStats",grpc_code="OK"}',
      ),
      1,
    );
    assert.equal(sample(text, `expertmesh_rpc_duration_seconds_count{${LABELS}}`), 3);
    assert.equal(sample(text, `expertmesh_rpc_duration_seconds_bucket{le="+Inf",${LABELS}}`), 3);
    assert.ok((sample(text, `expertmesh_rpc_duration_seconds_sum{${LABELS}}`) ?? 0) > 0);
    assert.equal(sample(text, `expertmesh_rpc_in_flight_requests{${LABELS}}`), 0);
    assert.match(text, /# TYPE expertmesh_rpc_duration_seconds histogram/);
    assert.doesNotMatch(text, /grpc\.health\.v1/, "health calls are not counted");
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test("the in-flight gauge counts a call while its handler runs", async () => {
  const metrics = new MeshMetrics();
  let release!: () => void;
  let entered!: () => void;
  const running = new Promise<void>((resolve) => (entered = resolve));
  const server = await createServer({
    name: "metrics-test",
    services: [
      testShardService({
        beforeRunExperts: () =>
          new Promise<void>((resolve) => {
            release = resolve;
            entered();
          }),
      }),
    ],
    signals: [],
    logger: silentLogger,
    metrics,
  });
  const client = testShardClient(server.address);
  try {
    const call = unary(client.runExperts.bind(client), request(0));
    await running;
    assert.equal(sample(await metrics.text(), `expertmesh_rpc_in_flight_requests{${LABELS}}`), 1);
    release();
    await call;
    assert.equal(sample(await metrics.text(), `expertmesh_rpc_in_flight_requests{${LABELS}}`), 0);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test("/healthz follows the server's overall health, /livez always answers, and the endpoint closes with the server", async () => {
  const server = await createServer({
    name: "metrics-test",
    services: [testShardService()],
    signals: [],
    logger: silentLogger,
    metrics: new MeshMetrics(),
    metricsPort: 0,
  });
  const base = `http://127.0.0.1:${server.metricsPort}`;
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  server.health.set(OVERALL, ServingStatus.NOT_SERVING);
  assert.equal((await fetch(`${base}/healthz`)).status, 503);
  assert.equal((await fetch(`${base}/livez`)).status, 200);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/metrics`, { method: "POST" })).status, 405);
  await server.drain({ timeoutMs: 1_000 });
  await assert.rejects(fetch(`${base}/livez`));
});

test("service metrics: cache sources read at each scrape", async () => {
  const metrics = new MeshMetrics();
  const http = await startMetricsServer({ port: 0, metrics });
  try {
    const tiers = [
      {
        tier: CacheTier.CACHE_TIER_DEVICE,
        hits: 7,
        misses: 3,
        loads: 4,
        prefetchLoads: 2,
        wastedPrefetches: 1,
        evictions: 2,
        bytesLoaded: 4096,
        usedBytes: 2048,
        budgetBytes: 8192,
        resident: [],
      },
      { tier: CacheTier.CACHE_TIER_HOST, hits: 3, misses: 0, loads: 3, evictions: 0, bytesLoaded: 3072 },
    ];
    metrics.observeCache(() => tiers);
    const scrape = async () => (await fetch(`${http.url}/metrics`)).text();

    let text = await scrape();
    assert.equal(sample(text, 'expertmesh_cache_hits_total{tier="device"}'), 7);
    assert.equal(sample(text, 'expertmesh_cache_misses_total{tier="device"}'), 3);
    assert.equal(sample(text, 'expertmesh_cache_loads_total{tier="host"}'), 3);
    assert.equal(sample(text, 'expertmesh_cache_prefetch_loads_total{tier="device"}'), 2);
    assert.equal(sample(text, 'expertmesh_cache_wasted_prefetches_total{tier="device"}'), 1);
    assert.equal(sample(text, 'expertmesh_cache_evictions_total{tier="device"}'), 2);
    assert.equal(sample(text, 'expertmesh_cache_loaded_bytes_total{tier="device"}'), 4096);
    assert.equal(sample(text, 'expertmesh_cache_used_bytes{tier="device"}'), 2048);
    assert.equal(sample(text, 'expertmesh_cache_budget_bytes{tier="device"}'), 8192);
    assert.match(text, /# TYPE expertmesh_cache_hits_total counter/);

    tiers[0].hits = 9;
    text = await scrape();
    assert.equal(sample(text, 'expertmesh_cache_hits_total{tier="device"}'), 9, "a source's cumulative value replaces the last one");
  } finally {
    await http.close();
  }
});

test("metrics names follow expertmesh_<thing>_<unit>, counters ending in _total", async () => {
  const text = await new MeshMetrics().text();
  const names = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name, type }));
  assert.ok(names.length >= 12, `${names.length} metrics`);
  for (const { name, type } of names) {
    assert.match(name, /^expertmesh_[a-z_]+$/);
    if (type === "counter") assert.match(name, /_total$/);
    else assert.doesNotMatch(name, /_total$/);
  }
});
