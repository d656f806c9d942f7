// The client SDK against a real mesh (router, shards, nats-server as processes): the token stream with
// finish reason and usage at the end, cancellation that frees the server's only slot, deadlines, typed
// errors, and retries only where safe (a unary call retried until a late-listening port comes up; a
// stream neither retried before it starts nor after it is cut).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  ExpertMeshClient,
  DeadlineExceededError,
  InvalidArgumentError,
  ResourceExhaustedError,
  UnavailableError,
  type TokenChunk,
} from "@expertmesh/client";
import { freePort, startMesh, type Mesh } from "@expertmesh/cli/launcher";
import { TcpProxy } from "./tcp-proxy.js";

const PROMPT = "The Congress of the United States";
let mesh: Mesh;
let client: ExpertMeshClient;

// One running sequence and no queue: a second request is refused at once while one runs.
before(async () => {
  mesh = await startMesh({ shards: 2, deviceBudget: "50%", predictor: false, routerArgs: ["--max-batch", "1", "--max-queue", "0"] });
  client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
});
after(async () => {
  client.close();
  await mesh.stop();
});

/** Resolves once `client` is admitted: retries RESOURCE_EXHAUSTED every 20 ms; returns the ms it took. */
async function admittedWithin(limitMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      await client.complete("Admitted", { maxTokens: 2 });
      return Date.now() - t0;
    } catch (e) {
      if (!(e instanceof ResourceExhaustedError) || Date.now() - t0 > limitMs) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

test("generate streams the tokens of complete() and ends with finish reason and usage", async () => {
  const want = await client.complete(PROMPT, { maxTokens: 12, temperature: 0 });
  const chunks: TokenChunk[] = [];
  const it = client.generate(PROMPT, { maxTokens: 12, temperature: 0 });
  let r = await it.next();
  while (!r.done) {
    chunks.push(r.value);
    r = await it.next();
  }
  assert.deepEqual(
    chunks.flatMap((c) => c.tokenIds),
    want.tokenIds,
  );
  assert.equal(chunks.map((c) => c.text).join(""), want.text);
  const last = chunks.at(-1)!;
  assert.equal(last.finishReason, "length");
  assert.equal(chunks.filter((c) => c.finishReason).length, 1);
  const prompt = await client.tokenize(PROMPT, { addSpecialTokens: true });
  assert.equal(last.usage!.promptTokens, prompt.tokenIds.length);
  assert.equal(last.usage!.completionTokens, 12);
  assert.ok(last.usage!.totalMs > 0 && last.usage!.totalMs >= last.usage!.prefillMs);
  assert.deepEqual(r.value, { finishReason: "length", usage: last.usage });
  const info = await client.modelInfo();
  assert.ok(info.numLayers > 0 && info.numExperts > 0 && info.contextLength > 0);
});

test("an abort stops the server's work: the only slot is free again at once, not after the generation", async () => {
  const abort = new AbortController();
  const seen: number[] = [];
  const arrivals: number[] = [];
  const running = (async () => {
    for await (const c of client.generate(PROMPT, { maxTokens: 400, signal: abort.signal })) {
      seen.push(...c.tokenIds);
      arrivals.push(performance.now());
      if (seen.length === 3) {
        // While it runs the router is full: overload is a typed error, at once.
        await assert.rejects(client.complete("Second", { maxTokens: 2 }), (e) => e instanceof ResourceExhaustedError && e.resource !== "");
        abort.abort(new Error("user stop"));
      }
    }
  })();
  await assert.rejects(running, /user stop/);
  // The rest of the 400 tokens would take (400 - 3) x the stream's own pace; the cancelled one must free
  // its slot in a small part of that. The bound follows the pace, so a loaded machine does not fail it.
  const pace = (arrivals[2] - arrivals[0]) / 2;
  const bound = Math.max(1_000, 0.25 * (400 - 3) * pace);
  const ms = await admittedWithin(bound);
  assert.ok(ms < bound, `admitted after ${ms} ms (bound ${bound.toFixed(0)} ms at ${pace.toFixed(1)} ms per token)`);
  assert.ok(seen.length < 50, `received ${seen.length} tokens after the abort`);
});

test("a deadline shorter than the work gives DeadlineExceededError on time, and the slot is freed", async () => {
  const t0 = Date.now();
  await assert.rejects(client.complete(PROMPT, { maxTokens: 400, timeoutMs: 300 }), DeadlineExceededError);
  assert.ok(Date.now() - t0 < 2_000, `took ${Date.now() - t0} ms`);
  assert.ok((await admittedWithin(1_000)) < 1_000);
  await assert.rejects(async () => {
    for await (const _ of client.generate(PROMPT, { maxTokens: 400, timeoutMs: 300 }));
  }, DeadlineExceededError);
  assert.ok((await admittedWithin(1_000)) < 1_000);
});

test("invalid input is an InvalidArgumentError naming the field, the limit and the value", async () => {
  await assert.rejects(
    client.complete("x", { maxTokens: 100_000 }),
    (e) => e instanceof InvalidArgumentError && e.field === "sampling.max_tokens" && e.value === "100000" && e.limit !== undefined,
  );
  await assert.rejects(
    async () => {
      for await (const _ of client.generate("", { maxTokens: 4 }));
    },
    (e) => e instanceof InvalidArgumentError && e.field === "prompt",
  );
});

test("a unary call is retried on UNAVAILABLE until the router's port comes up", async () => {
  const proxy = new TcpProxy(await freePort(), mesh.router.address);
  const retries: number[] = [];
  // Full jitter under a 400 ms cap: 20 attempts span seconds, well past the 400 ms below.
  const late = new ExpertMeshClient(proxy.address, {
    ...mesh.clientOptions,
    timeoutMs: 20_000,
    retry: { maxAttempts: 20, initialBackoffMs: 100, maxBackoffMs: 400 },
    onRetry: (e) => retries.push(e.attempt),
  });
  try {
    const opening = new Promise((r) => setTimeout(r, 400)).then(() => proxy.listen());
    const r = await late.complete(PROMPT, { maxTokens: 4 });
    await opening;
    assert.equal(r.tokenIds.length, 4);
    assert.ok(retries.length >= 1, "at least one retry");
  } finally {
    late.close();
    await proxy.close();
  }
});

test("a stream is never retried: not when the port is down, not when the connection is cut mid-stream", async () => {
  const proxy = new TcpProxy(await freePort(), mesh.router.address);
  let retries = 0;
  const c = new ExpertMeshClient(proxy.address, {
    ...mesh.clientOptions,
    timeoutMs: 20_000,
    retry: { maxAttempts: 20, initialBackoffMs: 10, maxBackoffMs: 50 },
    onRetry: () => retries++,
  });
  try {
    const t0 = Date.now();
    await assert.rejects(async () => {
      for await (const _ of c.generate(PROMPT, { maxTokens: 4 }));
    }, UnavailableError);
    assert.ok(Date.now() - t0 < 2_000);
    assert.equal(retries, 0);

    await proxy.listen();
    // The channel is in its reconnect backoff after the refused connection: a unary call (retried) waits it out.
    await c.modelInfo();
    retries = 0;
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const chunk of c.generate(PROMPT, { maxTokens: 200 })) {
        seen.push(...chunk.tokenIds);
        if (seen.length === 3) proxy.cutAll();
      }
    }, UnavailableError);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(seen.length >= 3 && seen.length < 200);
    assert.equal(proxy.accepted, 1, "no second connection: the stream was not retried");
    assert.equal(retries, 0);
    // The cut stream's work was cancelled on the router: its slot is free.
    assert.ok((await admittedWithin(2_000)) < 2_000);
  } finally {
    c.close();
    await proxy.close();
  }
});
