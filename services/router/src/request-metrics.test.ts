import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { RequestMetrics } from "./request-metrics.js";

const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
};

test("one request of 3 tokens: one TTFT, two inter-token gaps, one e2e and queue time, its tokens and finish reason", async () => {
  const registry = new Registry();
  const m = new RequestMetrics(registry, "m1", { running: 0, waiting: 0 });
  const clock = m.request();
  clock.prompt(7);
  for (let i = 0; i < 3; i++) clock.token();
  clock.finish("length", { queueMs: 250, prefillMs: 10, decodeMs: 20 });
  const text = await registry.metrics();
  const l = '{model_name="m1"}';
  assert.equal(sample(text, `expertmesh:time_to_first_token_seconds_count${l}`), 1);
  assert.equal(sample(text, `expertmesh:inter_token_latency_seconds_count${l}`), 2);
  assert.equal(sample(text, `expertmesh:e2e_request_latency_seconds_count${l}`), 1);
  assert.equal(sample(text, `expertmesh:request_queue_time_seconds_sum${l}`), 0.25);
  assert.equal(sample(text, `expertmesh:prompt_tokens_total${l}`), 7);
  assert.equal(sample(text, `expertmesh:generation_tokens_total${l}`), 3);
  assert.equal(sample(text, 'expertmesh:request_success_total{model_name="m1",finished_reason="length"}'), 1);
});

test("running and waiting gauges read the engine at each scrape", async () => {
  const registry = new Registry();
  const occupancy = { running: 2, waiting: 5 };
  new RequestMetrics(registry, "m1", occupancy);
  let text = await registry.metrics();
  assert.equal(sample(text, 'expertmesh:num_requests_running{model_name="m1"}'), 2);
  assert.equal(sample(text, 'expertmesh:num_requests_waiting{model_name="m1"}'), 5);
  occupancy.waiting = 0;
  text = await registry.metrics();
  assert.equal(sample(text, 'expertmesh:num_requests_waiting{model_name="m1"}'), 0);
});
