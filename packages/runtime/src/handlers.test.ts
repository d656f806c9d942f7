// Server-streaming handlers (async generators) over real gRPC, with a tiny InferenceService whose
// Generate counts: it streams "0", "1", ... as tokens.
import { FinishReason, InferenceServiceClient, InferenceServiceService, type GenerateResponse } from "@expertmesh/proto";
import { credentials, Metadata, status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { errorFromStatus } from "./error-status.js";
import { CancelledError, InvalidArgumentError, NotFoundError } from "./errors.js";
import { silentLogger } from "./logger.js";
import { createServer, type Server } from "./server.js";
import { service } from "./service.js";
import { channelOptions } from "./limits.js";

let server: Server;
let client: InferenceServiceClient;
let lastAbortReason: unknown;
let generatorFinished = 0;
let releaseSlow: (() => void) | undefined;

before(async () => {
  const counting = service(InferenceServiceService, {
    generate: async function* (request, ctx) {
      try {
        const n = request.sampling?.maxTokens ?? 0;
        if (n > 1000) throw new InvalidArgumentError("sampling.max_tokens", "above the limit", { limit: 1000, value: n });
        for (let i = 0; i < n; i++) {
          if (request.prompt === "fail-at-2" && i === 2) throw new NotFoundError("expert", "0/9");
          if (request.prompt === "slow" && i === 1) {
            await new Promise<void>((resolve) => {
              releaseSlow = resolve;
              ctx.signal.addEventListener("abort", () => {
                lastAbortReason = ctx.signal.reason;
                resolve();
              });
            });
          }
          yield { tokenIds: [i], text: String(i), finishReason: FinishReason.FINISH_REASON_UNSPECIFIED, usage: undefined };
        }
        yield { tokenIds: [], text: "", finishReason: FinishReason.FINISH_REASON_LENGTH, usage: undefined };
      } finally {
        generatorFinished++;
      }
    },
    complete: () => {
      throw new Error("not used");
    },
    tokenize: (request) => ({ tokenIds: [...request.text].map((c) => c.charCodeAt(0)), tokens: [...request.text] }),
    modelInfo: () => {
      throw new Error("not used");
    },
  });
  server = await createServer({ name: "handlers-test", services: [counting], signals: [], logger: silentLogger });
  client = new InferenceServiceClient(server.address, credentials.createInsecure(), channelOptions());
});

after(() => {
  client.close();
  server.forceShutdown();
});

function collect(call: ClientReadableStream<GenerateResponse>): Promise<{ chunks: GenerateResponse[]; error?: ServiceError }> {
  const chunks: GenerateResponse[] = [];
  return new Promise((resolve) => {
    call.on("data", (chunk: GenerateResponse) => chunks.push(chunk));
    call.on("error", (error: ServiceError) => resolve({ chunks, error }));
    call.on("end", () => resolve({ chunks }));
  });
}

test("a server stream delivers every yielded message in order, then OK", async () => {
  const before = generatorFinished;
  const { chunks, error } = await collect(
    client.generate({ model: "", prompt: "", sampling: { maxTokens: 50, stop: [] } }, new Metadata()),
  );
  assert.equal(error, undefined);
  assert.deepEqual(
    chunks.slice(0, -1).map((c) => c.text),
    Array.from({ length: 50 }, (_, i) => String(i)),
  );
  assert.equal(chunks.at(-1)?.finishReason, FinishReason.FINISH_REASON_LENGTH);
  assert.equal(generatorFinished, before + 1);
});

test("an error thrown before the first message ends the stream with its status and ErrorInfo", async () => {
  const { chunks, error } = await collect(
    client.generate({ model: "", prompt: "", sampling: { maxTokens: 5000, stop: [] } }, new Metadata()),
  );
  assert.equal(chunks.length, 0);
  assert.equal(error?.code, status.INVALID_ARGUMENT);
  const back = errorFromStatus(error!);
  assert.ok(back instanceof InvalidArgumentError);
  assert.deepEqual([back.field, back.limit, back.value], ["sampling.max_tokens", "1000", "5000"]);
});

test("an error thrown mid-stream arrives after the messages sent before it", async () => {
  const { chunks, error } = await collect(
    client.generate({ model: "", prompt: "fail-at-2", sampling: { maxTokens: 5, stop: [] } }, new Metadata()),
  );
  assert.deepEqual(
    chunks.map((c) => c.text),
    ["0", "1"],
  );
  assert.equal(error?.code, status.NOT_FOUND);
  assert.equal(errorFromStatus(error!).reason, "NOT_FOUND");
});

test("a client cancel aborts the handler's signal with CancelledError and closes the generator", async () => {
  const before = generatorFinished;
  const call = client.generate({ model: "", prompt: "slow", sampling: { maxTokens: 5, stop: [] } }, new Metadata());
  const result = collect(call);
  await new Promise<void>((resolve) => call.once("data", () => resolve()));
  while (releaseSlow === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
  call.cancel();
  const { error } = await result;
  assert.equal(error?.code, status.CANCELLED);
  while (generatorFinished === before) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(lastAbortReason instanceof CancelledError);
});

test("a unary handler may return synchronously", async () => {
  const response = await new Promise((resolve, reject) =>
    client.tokenize({ model: "", text: "ab", addSpecialTokens: false }, (error, value) => (error ? reject(error) : resolve(value))),
  );
  assert.deepEqual(response, { tokenIds: [97, 98], tokens: ["a", "b"] });
});
