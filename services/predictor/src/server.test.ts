// Start-up of the service: what it refuses, naming the key or file, before it serves anything.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { readConfig, readPredictorInfo } from "@expertmesh/model";
import { BUNDLED_PREDICTOR, DEFAULT_MAX_TOKENS, predictorConfig } from "./config.js";
import { predictorClient, startTestPredictor, syntheticTrace, tempDir, unary, writePriorModel } from "./testing.js";

test("defaults: the bundled trained predictor, port 50071, tokens per request chosen at start (0), one CPU thread", () => {
  const config = predictorConfig.parse([], {});
  assert.match(config.predictor, /models\/sotu-moe\/predictor\.onnx$/);
  assert.equal(config.port, 50071);
  assert.equal(config.maxTokens, 0);
  assert.equal(config.threads, 1);
  assert.equal(config.provider, "cpu");
  assert.equal(predictorConfig.parse([], { EXPERTMESH_PREDICTOR_MAX_TOKENS: "100" }).maxTokens, 100);
  assert.throws(() => predictorConfig.parse(["--provider", "tpu"], {}), /config provider: invalid value "tpu" from --provider/);
});

test("the bundled predictor is a trained mlp with the bundled model's layers, experts, k and vocabulary", () => {
  const info = readPredictorInfo(readFileSync(BUNDLED_PREDICTOR), BUNDLED_PREDICTOR);
  const model = readConfig(dirname(BUNDLED_PREDICTOR));
  assert.equal(info.kind, "mlp");
  assert.equal(info.baseline, false);
  assert.deepEqual(
    [info.numLayers, info.numExperts, info.topK, info.vocabSize],
    [model.numLayers, model.numExperts, model.topK, model.vocabSize],
  );
});

test("a missing model file, or a file that is not a predictor, stops start-up naming it", async () => {
  const dir = tempDir("server-start");
  await assert.rejects(startTestPredictor(["--predictor", join(dir, "none.onnx")]), /config predictor: .*none\.onnx: not found/);
  writeFileSync(join(dir, "junk.onnx"), "junk");
  await assert.rejects(startTestPredictor(["--predictor", join(dir, "junk.onnx")]), /junk\.onnx: not an ONNX model/);
});

test("by default a model of E=256 over 58 layers serves as many tokens per request as fit the message limit; a small one 8192", async () => {
  const dir = tempDir("server-auto");
  const big = await startTestPredictor([
    "--predictor",
    writePriorModel(dir, syntheticTrace({ tokens: 64, numLayers: 58, numExperts: 256, topK: 8 }), "big.onnx"),
  ]);
  const small = await startTestPredictor([
    "--predictor",
    writePriorModel(dir, syntheticTrace({ tokens: 10, numLayers: 4, numExperts: 16, topK: 2 }), "small.onnx"),
  ]);
  const client = predictorClient(big.server.address);
  try {
    const limit = big.maxTokens;
    assert.ok(limit >= 500 && limit * 58 * 256 * 4 <= 32 * 2 ** 20, `${limit} tokens of 58 x 256`);
    assert.equal(small.maxTokens, DEFAULT_MAX_TOKENS);
    const request = (n: number) => ({ tokenIds: new Array(n).fill(3), positions: new Array(n).fill(0) });
    const full = await unary(client.predictRoutes.bind(client), request(limit));
    assert.equal(full.probabilities.length, limit);
    await assert.rejects(
      unary(client.predictRoutes.bind(client), request(limit + 1)),
      new RegExp(`${limit + 1} tokens, above the limit of ${limit}`),
    );
  } finally {
    client.close();
    await big.stop();
    await small.stop();
  }
});

test("a token limit whose response would exceed the message-size limit is refused naming maxTokens", async () => {
  const model = writePriorModel(tempDir("server-limit"), syntheticTrace({ tokens: 10, numLayers: 4, numExperts: 16, topK: 2 }));
  await assert.rejects(
    startTestPredictor(["--predictor", model, "--max-tokens", "1000000"]),
    /config maxTokens: 1000000 tokens of 4 x 16 probabilities/,
  );
});
