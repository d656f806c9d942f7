// Start-up of the service: what it refuses, naming the key or file, before it serves anything.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { readConfig, readPredictorInfo } from "@expertmesh/model";
import { BUNDLED_PREDICTOR, predictorConfig } from "./config.js";
import { startTestPredictor, syntheticTrace, tempDir, writePriorModel } from "./testing.js";

test("defaults: the bundled trained predictor, port 50071, 8192 tokens per request, one CPU thread", () => {
  const config = predictorConfig.parse([], {});
  assert.match(config.predictor, /models\/sotu-moe\/predictor\.onnx$/);
  assert.equal(config.port, 50071);
  assert.equal(config.maxTokens, 8192);
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
  assert.deepEqual([info.numLayers, info.numExperts, info.topK, info.vocabSize], [model.numLayers, model.numExperts, model.topK, model.vocabSize]);
});

test("a missing model file, or a file that is not a predictor, stops start-up naming it", async () => {
  const dir = tempDir("server-start");
  await assert.rejects(startTestPredictor(["--predictor", join(dir, "none.onnx")]), /config predictor: .*none\.onnx: not found/);
  writeFileSync(join(dir, "junk.onnx"), "junk");
  await assert.rejects(startTestPredictor(["--predictor", join(dir, "junk.onnx")]), /junk\.onnx: not an ONNX model/);
});

test("a token limit whose response would exceed the message-size limit is refused naming maxTokens", async () => {
  const model = writePriorModel(tempDir("server-limit"), syntheticTrace({ tokens: 10, numLayers: 4, numExperts: 16, topK: 2 }));
  await assert.rejects(startTestPredictor(["--predictor", model, "--max-tokens", "1000000"]), /config maxTokens: 1000000 tokens of 4 x 16 probabilities/);
});
