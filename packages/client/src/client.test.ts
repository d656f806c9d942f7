// The SDK against a real in-process InferenceService: the stream's last chunk, unary retries on
// UNAVAILABLE (honouring RetryInfo) and none for a stream, cancellation reaching the server, deadlines,
// and plaintext / TLS / mTLS with certificates made for this test.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ServerCredentials } from "@grpc/grpc-js";
import { FinishReason } from "@expertmesh/proto";
import { DeadlineExceededError, InvalidArgumentError, UnavailableError, type Server } from "@expertmesh/runtime";
import { ExpertMeshClient } from "./client.js";
import { makeTestPki, startTestInference, type TestPki } from "./testing.js";

const fast = { initialBackoffMs: 5, maxBackoffMs: 20 };

test("generate yields the tokens, then a last chunk with finish reason and usage (also returned)", async () => {
  const server = await startTestInference();
  const client = new ExpertMeshClient(server.address);
  try {
    const chunks = [];
    const it = client.generate("a b c");
    let r = await it.next();
    while (!r.done) {
      chunks.push(r.value);
      r = await it.next();
    }
    assert.deepEqual(
      chunks.slice(0, 3).map((c) => c.text),
      ["a", "b", "c"],
    );
    const last = chunks.at(-1)!;
    assert.equal(last.finishReason, "length");
    assert.deepEqual(last.usage, { promptTokens: 3, completionTokens: 3, queueMs: 1500, prefillMs: 1500, decodeMs: 1500, totalMs: 1500 });
    assert.deepEqual(r.value, { finishReason: "length", usage: last.usage });
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test("a unary call is retried on UNAVAILABLE, waiting at least the server's RetryInfo delay", async () => {
  let calls = 0;
  const server = await startTestInference({
    complete: () => {
      if (++calls < 3) throw new UnavailableError("warming up", { retryAfterMs: 100 });
      return "done";
    },
  });
  const retries: number[] = [];
  const client = new ExpertMeshClient(server.address, { retry: fast, onRetry: (e) => retries.push(e.delayMs) });
  try {
    const t0 = Date.now();
    const r = await client.complete("x");
    assert.equal(r.text, "done");
    assert.equal(calls, 3);
    assert.deepEqual(retries, [100, 100]);
    assert.ok(Date.now() - t0 >= 200);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test("errors other than UNAVAILABLE are not retried, and retry: false turns retries off", async () => {
  let calls = 0;
  const server = await startTestInference({
    complete: (prompt) => {
      calls++;
      if (prompt === "bad") throw new InvalidArgumentError("prompt", "too bad", { limit: 1, value: 2 });
      throw new UnavailableError("down");
    },
  });
  const client = new ExpertMeshClient(server.address, { retry: fast });
  const noRetry = new ExpertMeshClient(server.address, { retry: false });
  try {
    await assert.rejects(
      client.complete("bad"),
      (e) => e instanceof InvalidArgumentError && e.field === "prompt" && e.limit === "1" && e.value === "2",
    );
    assert.equal(calls, 1);
    calls = 0;
    await assert.rejects(noRetry.complete("x"), UnavailableError);
    assert.equal(calls, 1);
  } finally {
    client.close();
    noRetry.close();
    server.forceShutdown();
  }
});

test("a stream is never retried: UNAVAILABLE after the first token reaches the caller once", async () => {
  let calls = 0;
  const server = await startTestInference({
    generate: async function* () {
      calls++;
      yield { tokenIds: [7], text: "seven", finishReason: FinishReason.FINISH_REASON_UNSPECIFIED, usage: undefined };
      throw new UnavailableError("shard lost");
    },
  });
  const client = new ExpertMeshClient(server.address, { retry: fast });
  try {
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const c of client.generate("x")) seen.push(c.text);
    }, UnavailableError);
    assert.deepEqual(seen, ["seven"]);
    assert.equal(calls, 1);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test("an abort cancels the server's work; a short deadline gives DeadlineExceededError", async () => {
  let serverSaw: unknown;
  const server = await startTestInference({
    generate: async function* (_p, ctx) {
      yield { tokenIds: [1], text: "one", finishReason: FinishReason.FINISH_REASON_UNSPECIFIED, usage: undefined };
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
      serverSaw = ctx.signal.reason;
    },
    modelInfo: (ctx) => new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true })),
  });
  const client = new ExpertMeshClient(server.address);
  try {
    const abort = new AbortController();
    await assert.rejects(async () => {
      for await (const _ of client.generate("x", { signal: abort.signal })) abort.abort(new Error("user stop"));
    }, /user stop/);
    for (let i = 0; i < 100 && serverSaw === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(String(serverSaw), /cancelled by the client/);
    const t0 = Date.now();
    await assert.rejects(client.modelInfo({ timeoutMs: 150 }), DeadlineExceededError);
    assert.ok(Date.now() - t0 < 1000);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

describe("TLS and mTLS on loopback, with certificates made for this test", () => {
  let pki: TestPki;
  let tls: Server;
  let mtls: Server;
  before(async () => {
    pki = makeTestPki();
    const keyCert = [{ private_key: pki.serverKey, cert_chain: pki.serverCert }];
    tls = await startTestInference({}, ServerCredentials.createSsl(null, keyCert, false));
    mtls = await startTestInference({}, ServerCredentials.createSsl(pki.ca, keyCert, true));
  });
  after(() => {
    tls.forceShutdown();
    mtls.forceShutdown();
  });

  const info = async (address: string, options: ConstructorParameters<typeof ExpertMeshClient>[1]) => {
    const client = new ExpertMeshClient(address, { timeoutMs: 3000, retry: false, ...options });
    try {
      return (await client.modelInfo()).name;
    } finally {
      client.close();
    }
  };

  test("TLS: a client trusting the CA connects; plaintext and a client trusting another CA are refused", async () => {
    assert.equal(await info(tls.address, { tls: { ca: pki.ca } }), "test-model");
    assert.equal(await info(`localhost:${tls.port}`, { tls: { ca: pki.ca } }), "test-model");
    await assert.rejects(info(tls.address, {}), UnavailableError);
    await assert.rejects(info(tls.address, { tls: { ca: pki.otherCa } }), UnavailableError);
  });

  test("mTLS: a client with the CA-signed certificate connects; one without a certificate is refused", async () => {
    assert.equal(await info(mtls.address, { tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } }), "test-model");
    await assert.rejects(info(mtls.address, { tls: { ca: pki.ca } }), UnavailableError);
    assert.throws(
      () => new ExpertMeshClient(mtls.address, { tls: { ca: pki.ca, cert: pki.clientCert } }),
      /mTLS needs both cert and key, got only cert/,
    );
  });
});
