// PredictorService.PredictRoutes over real gRPC on loopback, with real onnxruntime and predictor models
// built by this package: served values, request validation, and the event loop while inference runs.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { Dtype, HealthClient, ServingStatus, type PredictorServiceClient } from "@expertmesh/proto";
import { readStatusDetails, tensorToFloat32 } from "@expertmesh/runtime";
import type { Predictor } from "./server.js";
import { predictorClient, startTestPredictor, syntheticTrace, tempDir, unary, writePriorModel, writeSlowModel } from "./testing.js";

const L = 3;
const E = 8;
const k = 2;
const trace = syntheticTrace({ tokens: 500, numLayers: L, numExperts: E, topK: k });
let predictor: Predictor;
let client: PredictorServiceClient;
let slow: Predictor; // serves a model that takes about a second for 8,192 tokens
let slowClient: PredictorServiceClient;

before(async () => {
  predictor = await startTestPredictor(["--predictor", writePriorModel(tempDir("predict-routes"), trace), "--max-tokens", "64"]);
  client = predictorClient(predictor.server.address);
  slow = await startTestPredictor([
    "--predictor",
    writeSlowModel(tempDir("slow"), { numLayers: L, numExperts: E }, 40),
    "--max-queue",
    "1",
  ]);
  slowClient = predictorClient(slow.server.address);
});

after(async () => {
  client.close();
  slowClient.close();
  await Promise.all([predictor.stop(), slow.stop()]);
});

/** The prior [L, E], counted here directly from the trace (not through frequencyPrior). */
function expectedPrior(): number[][] {
  const counts = Array.from({ length: L }, () => new Array<number>(E).fill(0));
  for (let t = 0; t < trace.tokens; t++) {
    for (let l = 0; l < L; l++) for (let j = 0; j < k; j++) counts[l][trace.experts[(t * L + l) * k + j]]++;
  }
  return counts.map((row) => row.map((c) => c / trace.tokens));
}

const predict = (tokenIds: number[], positions: number[] = tokenIds.map((_, i) => i), options = {}) =>
  unary(client.predictRoutes.bind(client), { tokenIds, positions }, options);

test("L and E come from the model's metadata", () => {
  assert.equal(predictor.info.numLayers, L);
  assert.equal(predictor.info.numExperts, E);
  assert.equal(predictor.info.kind, "frequency-prior");
  assert.equal(predictor.description, "frequency-prior (baseline): (token, position) -> 3 x 8 (top-2), from 500 trace tokens");
});

test("every token gets a float32 [L, E] tensor equal to the trace's frequency prior", async () => {
  const response = await predict([5, 17, 4095, 0, 99]);
  assert.equal(response.probabilities.length, 5);
  const prior = expectedPrior();
  for (const tensor of response.probabilities) {
    assert.equal(tensor.dtype, Dtype.DTYPE_FLOAT32);
    assert.deepEqual(tensor.shape, [L, E]);
    const values = tensorToFloat32(tensor, "probabilities");
    for (let l = 0; l < L; l++) {
      for (let e = 0; e < E; e++)
        assert.ok(Math.abs(values[l * E + e] - prior[l][e]) <= 1e-6, `[${l}, ${e}]: ${values[l * E + e]} vs ${prior[l][e]}`);
    }
  }
});

test("a request at the token limit is served", async () => {
  const response = await predict(Array.from({ length: 64 }, (_, i) => i));
  assert.equal(response.probabilities.length, 64);
});

test("bad requests get INVALID_ARGUMENT naming the limit and the value", async () => {
  const cases: { tokenIds: number[]; positions?: number[]; reason: string; limit: string; value: string; message: RegExp }[] = [
    { tokenIds: [], reason: "EMPTY_REQUEST", limit: "1", value: "0", message: /token_ids: is empty/ },
    {
      tokenIds: [1, 2, 3],
      positions: [0, 1],
      reason: "LENGTH_MISMATCH",
      limit: "3",
      value: "2",
      message: /positions: has 2 entries, token_ids has 3/,
    },
    { tokenIds: new Array(65).fill(1), reason: "TOO_MANY_TOKENS", limit: "64", value: "65", message: /65 tokens, above the limit of 64/ },
  ];
  for (const c of cases) {
    await assert.rejects(predict(c.tokenIds, c.positions), (e: ServiceError) => {
      assert.equal(e.code, status.INVALID_ARGUMENT, c.reason);
      assert.match(e.details, c.message);
      const info = readStatusDetails(e.metadata).errorInfo;
      assert.equal(info?.reason, c.reason);
      assert.equal(info?.metadata.limit, c.limit);
      assert.equal(info?.metadata.value, c.value);
      return true;
    });
  }
});

test("the event loop answers health checks while a large request runs in the worker", async () => {
  let done = false;
  const large = unary(slowClient.predictRoutes.bind(slowClient), { tokenIds: new Array(8192).fill(3), positions: new Array(8192).fill(0) });
  void large.then(() => (done = true));
  const health = new HealthClient(slow.server.address, credentials.createInsecure());
  try {
    let answered = 0;
    while (!done && answered < 3) {
      const response = await unary(health.check.bind(health), { service: "expertmesh.v1.PredictorService" });
      assert.equal(response.status, ServingStatus.SERVING);
      if (!done) answered++;
    }
    assert.equal(answered, 3, "three health checks answered before the large request finished");
    // With --max-queue 1, one more request waits while one runs; the next is refused at once.
    const waiting = unary(slowClient.predictRoutes.bind(slowClient), { tokenIds: [1], positions: [0] });
    await assert.rejects(
      unary(slowClient.predictRoutes.bind(slowClient), { tokenIds: [1], positions: [0] }),
      (e: ServiceError) => e.code === status.RESOURCE_EXHAUSTED && /queue is full: 1 requests wait, limit 1/.test(e.details),
    );
    assert.equal((await large).probabilities.length, 8192);
    assert.equal((await waiting).probabilities.length, 1);
  } finally {
    health.close();
  }
});

test("a request whose deadline passes while the model runs gets DEADLINE_EXCEEDED; the next one is served", async () => {
  const request = { tokenIds: new Array(8192).fill(3), positions: new Array(8192).fill(0) };
  await assert.rejects(
    unary(slowClient.predictRoutes.bind(slowClient), request, { deadline: Date.now() + 150 }),
    (e: ServiceError) => e.code === status.DEADLINE_EXCEEDED,
  );
  const response = await unary(slowClient.predictRoutes.bind(slowClient), { tokenIds: [1, 2], positions: [0, 1] });
  assert.equal(response.probabilities.length, 2);
});
