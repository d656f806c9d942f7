// `expertmesh up` as a user runs it (a child process): the OpenAI client streams a chat completion from
// it, each process gets its own metrics port, a user's checkpoint without a predictor serves with a
// warning, a predictor of the wrong shape is refused before anything starts, and a service that cannot
// start reports its own error, not "internal error" or a stack trace.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createRequire } from "node:module";
import OpenAI from "openai";
import { BUNDLED_MODEL_DIR } from "@expertmesh/model";
import { freePortRange } from "@expertmesh/cli/launcher";

const CLI = createRequire(import.meta.url).resolve("@expertmesh/cli");
const root = mkdtempSync(join(tmpdir(), "up-command-"));
after(() => rmSync(root, { recursive: true, force: true }));

interface Up {
  child: ChildProcess;
  ready: {
    router: string;
    http: string | null;
    metrics: { router: string; shards: string[]; predictor: string | null } | null;
    predictor: string | null;
  };
  stderr: () => string;
  stop(): Promise<void>;
}

/** Starts `expertmesh up ... --json` and resolves with its ready line; rejects with its stderr if it exits first. */
function up(...args: string[]): Promise<Up> {
  const child = spawn(process.execPath, [CLI, "up", "--json", "--no-nats", "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line)
        resolve({
          child,
          ready: JSON.parse(line),
          stderr: () => err,
          stop: async () => {
            child.kill("SIGTERM");
            await exited;
          },
        });
    });
    void exited.then((code) => reject(new Error(`up exited (code ${code}) before it was ready:\n${err}`)));
  });
}

/** Runs `expertmesh ...args` to its end. */
function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

/** `n` consecutive ports free on 127.0.0.1 now. */
function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve(s));
  });
}

test("the openai client streams a chat completion from `up --http-port`; each process has its own /metrics port", async () => {
  const base = await freePortRange(4);
  const mesh = await up("--shards", "2", "--http-port", "0", "--metrics-port", String(base));
  try {
    assert.match(mesh.ready.http!, /^http:\/\/127\.0\.0\.1:\d+$/);
    const openai = new OpenAI({ baseURL: `${mesh.ready.http}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = await openai.chat.completions.create({
      model: "sotu-moe",
      messages: [{ role: "user", content: "What is the state of the Union?" }],
      max_tokens: 8,
      temperature: 0,
      stream: true,
    });
    let text = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(text.length > 0);
    assert.ok(finish === "length", `finish ${finish}`); // greedy text of the bundled model does not end within 8 tokens
    const m = mesh.ready.metrics!;
    assert.deepEqual(
      [m.router, ...m.shards, m.predictor],
      [0, 1, 2, 3].map((i) => `http://127.0.0.1:${base + i}/metrics`),
    );
    // The router's vLLM-style metrics saw that request: 1 TTFT, 7 inter-token gaps, 8 tokens, nothing running now.
    const router = await (await fetch(m.router)).text();
    const value = (series: string) =>
      Number(
        router
          .split("\n")
          .find((l) => l.startsWith(`${series} `))
          ?.split(" ")[1],
      );
    const l = '{model_name="sotu-moe"}';
    assert.equal(value(`expertmesh:time_to_first_token_seconds_count${l}`), 1);
    assert.equal(value(`expertmesh:inter_token_latency_seconds_count${l}`), 7);
    assert.equal(value(`expertmesh:e2e_request_latency_seconds_count${l}`), 1);
    assert.equal(value(`expertmesh:request_queue_time_seconds_count${l}`), 1);
    assert.equal(value(`expertmesh:generation_tokens_total${l}`), 8);
    assert.equal(value(`expertmesh:num_requests_running${l}`), 0);
    assert.equal(value(`expertmesh:num_requests_waiting${l}`), 0);
    assert.equal(value(`expertmesh:request_success_total{model_name="sotu-moe",finished_reason="${finish}"}`), 1);
    for (const url of [m.router, ...m.shards, m.predictor!]) {
      const r = await fetch(url);
      assert.equal(r.status, 200, url);
      assert.match(await r.text(), /expertmesh_rpc_requests_total|process_cpu/);
    }
  } finally {
    await mesh.stop();
  }
});

test("up --model with a user's checkpoint and no predictor of its shape serves, with a warning naming why", async () => {
  const model = join(root, "user-model");
  const made = await run(
    "synth",
    "--hidden",
    "64",
    "--intermediate",
    "96",
    "--layers",
    "3",
    "--experts",
    "8",
    "--top-k",
    "2",
    "--heads",
    "4",
    "--out",
    model,
  );
  assert.equal(made.code, 0, made.stderr);
  // synth copies the bundled tokenizer, chat template included: this user's model has none.
  const config = join(model, "tokenizer_config.json");
  const { chat_template: _, ...rest } = JSON.parse(readFileSync(config, "utf8")) as Record<string, unknown>;
  writeFileSync(config, JSON.stringify(rest));
  const mesh = await up("--model", model, "--shards", "2", "--policy", "expertflow", "--http-port", "0");
  try {
    assert.match(mesh.stderr(), /warning: .*has no predictor\.onnx: serving without route prediction/);
    assert.equal(mesh.ready.predictor, null);
    const r = await fetch(`${mesh.ready.http}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "user-model", prompt: "The Congress", max_tokens: 4 }),
    });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens, 4);
    // No chat template in its tokenizer_config.json: chat is refused with the reason, not rendered somehow.
    const chat = await fetch(`${mesh.ready.http}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "user-model", messages: [{ role: "user", content: "x" }] }),
    });
    assert.equal(chat.status, 400);
    assert.match(((await chat.json()) as { error: { message: string } }).error.message, /no chat_template/);
  } finally {
    await mesh.stop();
  }
  // A predictor of another model's shape is a usage error before anything starts.
  const wrong = await run("up", "--model", model, "--predictor", join(BUNDLED_MODEL_DIR, "predictor.onnx"));
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /--predictor .*predictor\.onnx predicts 4 layers x 16 experts, the model in .* has 3 x 8/);
});

test("a metrics port in use is named, with the process it was for, before anything starts", async () => {
  const base = await freePortRange(4);
  const squatter = await listen(base + 1); // shard 0's metrics port
  try {
    const r = await run("up", "--shards", "2", "--no-nats", "--no-predictor", "--port", "0", "--metrics-port", String(base));
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`expertmesh up: port ${base + 1} \\(shard 0 metrics, --metrics-port \\+ 1\\) is already in use`));
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  } finally {
    await new Promise((res) => squatter.close(res));
  }
});
