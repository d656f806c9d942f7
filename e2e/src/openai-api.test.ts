// The OpenAI-compatible HTTP API of a real mesh (router, shards as processes), driven by the official
// `openai` npm client and by raw HTTP as curl -N sees it: completions and chat completions, whole and
// streamed (SSE ending in [DONE], usage with stream_options.include_usage), the same tokens as the gRPC
// API, OpenAI's error JSON with the matching status, and a client disconnect that frees the server's slot.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI, { APIError } from "openai";
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { ExpertMeshClient } from "@expertmesh/client";
import { freePort, startMesh, type Mesh } from "@expertmesh/cli/launcher";
import { loadTest, MLPERF_MOE_OBJECTIVES } from "@expertmesh/loadtest";

const PROMPT = "The Congress of the United States";
let mesh: Mesh;
let openai: OpenAI;
let grpc: ExpertMeshClient;
let metricsUrl: string;

/** A series' value on the router's /metrics. */
async function metric(series: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return Number(
    text
      .split("\n")
      .find((l) => l.startsWith(`${series} `))
      ?.split(" ")[1],
  );
}

// One running sequence and no queue: a second request is refused at once while one runs.
before(async () => {
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  mesh = await startMesh({
    shards: 2,
    predictor: false,
    nats: false,
    httpPort: 0,
    routerArgs: ["--max-batch", "1", "--max-queue", "0", "--metrics-port", String(metricsPort)],
  });
  openai = new OpenAI({ baseURL: `${mesh.http}/v1`, apiKey: "unused", maxRetries: 0 });
  grpc = new ExpertMeshClient(mesh.router.address, mesh.clientOptions);
});
after(async () => {
  grpc.close();
  await mesh.stop();
});

/** The events of an SSE body: the `data:` payload of each event, in order. */
function sseData(body: string): string[] {
  return body
    .split("\n\n")
    .filter((e) => e.trim() !== "")
    .map((e) => {
      assert.match(e, /^data: /, `an SSE event is a data line: ${JSON.stringify(e)}`);
      return e.slice("data: ".length);
    });
}

async function admittedWithin(limitMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const r = await fetch(`${mesh.http}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "sotu-moe", prompt: "Admitted", max_tokens: 2 }),
    });
    await r.arrayBuffer();
    if (r.status === 200) return Date.now() - t0;
    if (r.status !== 429 || Date.now() - t0 > limitMs) throw new Error(`status ${r.status} after ${Date.now() - t0} ms`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

test("GET /v1/models lists the served model, and the openai client sees it", async () => {
  const models = await openai.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ["sotu-moe"],
  );
  const health = await fetch(`${mesh.http}/health`);
  assert.equal(health.status, 200);
});

test("a completion gives the gRPC API's greedy tokens' text, with usage", async () => {
  const want = await grpc.complete(PROMPT, { maxTokens: 12, temperature: 0 });
  const got = await openai.completions.create({ model: "sotu-moe", prompt: PROMPT, max_tokens: 12, temperature: 0 });
  assert.equal(got.choices[0]!.text, want.text);
  assert.equal(got.choices[0]!.finish_reason, "length");
  assert.deepEqual(got.usage, {
    prompt_tokens: want.usage!.promptTokens,
    completion_tokens: 12,
    total_tokens: want.usage!.promptTokens + 12,
  });
});

test("the openai client streams a chat completion: role first, the text in deltas, finish reason, then usage", async () => {
  const messages = [
    { role: "system" as const, content: "A speech." },
    { role: "user" as const, content: "What is the state of the Union?" },
  ];
  const whole = await openai.chat.completions.create({ model: "sotu-moe", messages, max_tokens: 10, temperature: 0 });
  const stream = await openai.chat.completions.create({
    model: "sotu-moe",
    messages,
    max_tokens: 10,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks[0]!.choices[0]!.delta.role, "assistant");
  const text = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? "")).join("");
  assert.equal(text, whole.choices[0]!.message.content);
  assert.ok(text.length > 0);
  assert.deepEqual(
    chunks.flatMap((c) => c.choices.flatMap((ch) => (ch.finish_reason ? [ch.finish_reason] : []))),
    ["length"],
  );
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage?.completion_tokens, 10);
  assert.equal(last.usage?.prompt_tokens, whole.usage?.prompt_tokens);
  // The chat template rendered the messages: the prompt is longer than the user's text alone.
  const user = await grpc.tokenize("What is the state of the Union?", { addSpecialTokens: true });
  assert.ok(whole.usage!.prompt_tokens > user.tokenIds.length);
});

test("raw HTTP as curl -N sees it: text/event-stream, one data: line per chunk, ending in data: [DONE]", async () => {
  const r = await fetch(`${mesh.http}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "sotu-moe", prompt: PROMPT, max_tokens: 6, temperature: 0, stream: true }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type")!, /^text\/event-stream/);
  const events = sseData(await r.text());
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events
    .slice(0, -1)
    .map((e) => JSON.parse(e) as { object: string; choices: { text: string; finish_reason: string | null }[]; usage?: unknown });
  assert.ok(chunks.every((c) => c.object === "text_completion" && c.choices.length === 1 && c.usage === undefined));
  assert.equal(chunks.filter((c) => c.choices[0]!.finish_reason !== null).length, 1);
  assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, "length");
  const want = await grpc.complete(PROMPT, { maxTokens: 6, temperature: 0 });
  assert.equal(chunks.map((c) => c.choices[0]!.text).join(""), want.text);
});

test("errors are OpenAI's JSON with the matching status: 404 unknown model, 400 naming the field, 413 too large", async () => {
  await assert.rejects(openai.completions.create({ model: "gpt-4", prompt: "x" }), (e) => {
    assert.ok(e instanceof APIError);
    assert.equal(e.status, 404);
    assert.equal(e.code, "model_not_found");
    assert.equal(e.type, "invalid_request_error");
    return true;
  });
  await assert.rejects(openai.completions.create({ model: "sotu-moe", prompt: "x", max_tokens: 100_000 }), (e) => {
    assert.ok(e instanceof APIError && e.status === 400);
    assert.equal(e.param, "max_tokens");
    assert.match(e.message, /100000.*512/);
    return true;
  });
  await assert.rejects(
    openai.chat.completions.create({ model: "sotu-moe", messages: [{ role: "user", content: "x" }], n: 2 }),
    (e) => e instanceof APIError && e.status === 400 && e.param === "n",
  );
  const bad = await fetch(`${mesh.http}/v1/completions`, { method: "POST", body: "{not json" });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /not valid JSON/);
  const big = await fetch(`${mesh.http}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ model: "sotu-moe", prompt: "x".repeat(2 * 1024 * 1024) }),
  });
  assert.equal(big.status, 413);
  assert.match(((await big.json()) as { error: { message: string } }).error.message, /above the limit of 1048576/);
});

test("a client that disconnects mid-stream frees the only slot at once; while it runs, a second request gets 429", async () => {
  const abort = new AbortController();
  const r = await fetch(`${mesh.http}/v1/chat/completions`, {
    method: "POST",
    signal: abort.signal,
    body: JSON.stringify({ model: "sotu-moe", messages: [{ role: "user", content: PROMPT }], max_tokens: 400, stream: true }),
  });
  const reader = r.body!.getReader();
  let seen = "";
  while ((seen.match(/data: /g) ?? []).length < 4) seen += new TextDecoder().decode((await reader.read()).value);
  const busy = await fetch(`${mesh.http}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ model: "sotu-moe", prompt: "x", max_tokens: 2 }),
  });
  assert.equal(busy.status, 429);
  assert.ok(Number(busy.headers.get("retry-after")) >= 1);
  assert.equal(((await busy.json()) as { error: { type: string } }).error.type, "rate_limit_error");
  assert.equal(await metric('expertmesh:num_requests_running{model_name="sotu-moe"}'), 1);
  assert.equal(await metric('expertmesh:num_requests_waiting{model_name="sotu-moe"}'), 0);
  abort.abort();
  // 400 tokens take seconds; the cancelled generation must free its slot within one.
  const ms = await admittedWithin(1_000);
  assert.ok(ms < 1_000, `admitted after ${ms} ms`);
  assert.equal(await metric('expertmesh:num_requests_running{model_name="sotu-moe"}'), 0);
  assert.equal(
    await metric('expertmesh:request_success_total{model_name="sotu-moe",finished_reason="abort"}'),
    1,
    "the disconnected stream counts as aborted",
  );
});

test("the load test drives the OpenAI API: prompts measured by the server, tokens and usage counted, no failures", async () => {
  const { report, run } = await loadTest({
    target: mesh.http!,
    api: "openai",
    load: { kind: "closed", concurrency: 1 },
    prompts: { minTokens: 8, maxTokens: 12, count: 2 },
    sampling: { maxTokens: 5, temperature: 0 },
    warmupS: 0,
    durationS: 30,
    maxRequests: 3,
    requestTimeoutMs: 30_000,
    objectives: MLPERF_MOE_OBJECTIVES,
    shards: [],
    seed: 1,
  });
  assert.equal(report.api, "openai");
  const measured = run.records.filter((r) => !r.warmup);
  assert.equal(measured.length, 3);
  for (const r of measured) {
    assert.equal(r.code, "OK", r.message);
    assert.equal(r.outputTokens, 5);
    assert.equal(r.finishReason, "length");
    assert.ok(r.promptTokens! >= 8 && r.promptTokens! <= 13, `prompt tokens ${r.promptTokens}`);
    assert.ok(r.firstTokenMs! >= r.sentMs!);
  }
});

test("one set of defaults: a request without temperature or seed is greedy on the HTTP API, the gRPC SDK and the CLI", async () => {
  const greedy = await grpc.complete(PROMPT, { maxTokens: 8, temperature: 0 });
  const sdk = await grpc.complete(PROMPT, { maxTokens: 8 });
  const http = await openai.completions.create({ model: "sotu-moe", prompt: PROMPT, max_tokens: 8 });
  const cli = await promisify(execFile)(process.execPath, [
    createRequire(import.meta.url).resolve("@expertmesh/cli"),
    "generate",
    "--prompt",
    PROMPT,
    "--max-tokens",
    "8",
    "--json",
  ]);
  assert.equal(sdk.text, greedy.text);
  assert.equal(http.choices[0]!.text, greedy.text);
  assert.equal((JSON.parse(cli.stdout) as { text: string }).text, greedy.text);
  // And sampling is what a temperature asks for: seeds differ, texts differ (8 tokens at temperature 1.5).
  const a = await grpc.complete(PROMPT, { maxTokens: 8, temperature: 1.5, seed: 1 });
  const b = await grpc.complete(PROMPT, { maxTokens: 8, temperature: 1.5, seed: 2 });
  assert.notDeepEqual(a.tokenIds, b.tokenIds);
});
