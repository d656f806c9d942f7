// Training the MLP predictor: examples aggregate a trace exactly, training lowers the BCE computed
// independently from mlpForward, the token bias lowers it further, and the result predicts the routing of
// a trace whose routing depends on the token.
import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluatePredictor } from "./predictor-metrics.js";
import { mlpForward, positionBucket } from "./predictor-mlp.js";
import { fitTokenBias } from "./predictor-token-bias.js";
import { mlpLoss, routingExamples, trainMlp, type TraceWithTokens } from "./predictor-train.js";

const V = 24;
const D = 6;
const L = 2;
const E = 6;
const k = 2;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** A trace whose routing is a function of the token (layer 0) and of the token and position (layer 1), with 10 % noise. */
function tokenTrace(tokens: number, seed: number): TraceWithTokens & { sequences: { start: number; length: number }[] } {
  const random = lcg(seed);
  const tokenIds = Int32Array.from({ length: tokens }, () => Math.floor(random() * V));
  const positions = Int32Array.from({ length: tokens }, (_, i) => i % 40);
  const experts = new Uint16Array(tokens * L * k);
  for (let n = 0; n < tokens; n++) {
    const id = tokenIds[n];
    const pairs = [
      [id % E, (id + 1) % E],
      [(id * 5 + (positions[n] < 4 ? 1 : 0)) % E, (id * 5 + 3) % E],
    ];
    for (let l = 0; l < L; l++) {
      const [a, b] = random() < 0.1 ? [Math.floor(random() * E), 0] : pairs[l];
      experts.set(a === b ? [a, (a + 2) % E] : [a, b], (n * L + l) * k);
    }
  }
  return { tokens, numLayers: L, numExperts: E, topK: k, tokenIds, positions, experts, sequences: [{ start: 0, length: tokens }] };
}

const random = lcg(99);
const embedding = { vocab: V, dim: D, data: Float32Array.from({ length: V * D }, () => random() * 2 - 1) };

test("examples count each (token, position bucket) once, with the share of its occurrences per expert", () => {
  // Token 3 at positions 0 and 5 (buckets 0 and 3), token 3 again at 6 (bucket 3); L=1, E=4, k=2.
  const trace: TraceWithTokens = {
    tokens: 3,
    numLayers: 1,
    numExperts: 4,
    topK: 2,
    tokenIds: Int32Array.of(3, 3, 3),
    positions: Int32Array.of(0, 5, 6),
    experts: Uint16Array.of(0, 1, 1, 2, 1, 3),
  };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 7, 8].map((p) => positionBucket(p, 10)),
    [0, 1, 2, 2, 3, 3, 4],
  );
  const ex = routingExamples([trace], 10);
  assert.equal(ex.tokens, 3);
  assert.deepEqual(Array.from(ex.tokenIds), [3, 3]);
  assert.deepEqual(Array.from(ex.buckets), [0, 3]);
  assert.deepEqual(Array.from(ex.counts), [1, 2]);
  assert.deepEqual(Array.from(ex.targets), [1, 1, 0, 0, 0, 1, 0.5, 0.5]);
});

test("training lowers the token-level BCE, computed here from the forward pass", () => {
  const trace = tokenTrace(600, 1);
  const examples = routingExamples([trace], 4);
  // The reference: mean over tokens and outputs of BCE(mlpForward, one-hot truth).
  const tokenBce = (m: Parameters<typeof mlpForward>[0]) => {
    const p = mlpForward(m, trace.tokenIds, trace.positions);
    const y = new Float32Array(p.length);
    for (let n = 0; n < trace.tokens; n++)
      for (let l = 0; l < L; l++) for (let j = 0; j < k; j++) y[(n * L + l) * E + trace.experts[(n * L + l) * k + j]] = 1;
    let sum = 0;
    for (let i = 0; i < p.length; i++) sum -= y[i] * Math.log(p[i]) + (1 - y[i]) * Math.log(1 - p[i]);
    return sum / p.length;
  };
  const untrained = trainMlp(embedding, examples, { hidden: 16, epochs: 1, batch: 8, learningRate: 1e-9 }).model;
  const { model, losses } = trainMlp(embedding, examples, { hidden: 16, epochs: 40, batch: 8, learningRate: 1e-2 });
  assert.ok(Math.abs(mlpLoss(model, examples) - tokenBce(model)) < 1e-5, "mlpLoss is the token-level BCE");
  assert.ok(tokenBce(model) < 0.7 * tokenBce(untrained), `BCE ${tokenBce(model)} vs untrained ${tokenBce(untrained)}`);
  assert.ok(losses[losses.length - 1] < losses[0], `epoch losses ${losses[0]} -> ${losses[losses.length - 1]}`);
  const before = mlpLoss(model, examples);
  fitTokenBias(model, examples, 0.5);
  assert.ok(Math.abs(mlpLoss(model, examples) - tokenBce(model)) < 1e-5, "mlpLoss includes the token bias");
  assert.ok(mlpLoss(model, examples) < before, "the token bias lowers the training BCE");
});

test("the token bias penalty is a pseudo-count: a huge one keeps the bias at 0, a small one fits each token", () => {
  const examples = routingExamples([tokenTrace(300, 5)], 1); // one position bucket: one example per token
  const { model } = trainMlp(embedding, examples, { hidden: 4, epochs: 1, batch: 8 });
  fitTokenBias(model, examples, 1e9);
  assert.ok(
    model.tokenBias.every((b) => Math.abs(b) < 1e-6),
    "huge penalty: no bias",
  );
  fitTokenBias(model, examples, 1e-3, 64);
  // With a tiny penalty each token's probabilities reach the share of its occurrences that used each expert.
  const O = L * E;
  const p = mlpForward(model, examples.tokenIds, new Int32Array(examples.tokenIds.length));
  for (let u = 0; u < examples.tokenIds.length; u++) {
    for (let o = 0; o < O; o++) {
      const y = examples.targets[u * O + o];
      if (y > 0.05 && y < 0.95) assert.ok(Math.abs(p[u * O + o] - y) < 0.02, `example ${u} output ${o}: ${p[u * O + o]} vs ${y}`);
    }
  }
});

test("a trained predictor names a held-out trace's experts far better than chance", () => {
  const examples = routingExamples([tokenTrace(800, 2)], 4);
  const { model } = trainMlp(embedding, examples, { hidden: 16, epochs: 30, batch: 8, learningRate: 1e-2 });
  fitTokenBias(model, examples, 0.5);
  const heldout = tokenTrace(400, 3);
  const report = evaluatePredictor(heldout, mlpForward(model, heldout.tokenIds, heldout.positions), [1]);
  // 90 % of the routing is a function of (token, position bucket): recall near 0.9; chance is k/E = 1/3.
  for (const r of report.recallAtK.perLayer) assert.ok(r > 0.8, `recall@2 per layer ${report.recallAtK.perLayer}`);
});

test("bad input names the limit and the value", () => {
  const examples = routingExamples([tokenTrace(50, 4)], 4);
  assert.throws(
    () => trainMlp({ ...embedding, vocab: 10, data: embedding.data.subarray(0, 60) }, examples),
    /token id \d+ is outside the embedding's vocabulary \[0, 10\)/,
  );
  assert.throws(() => trainMlp(embedding, examples, { hidden: 0 }), /hidden must be a positive integer, got 0/);
  assert.throws(() => routingExamples([], 4), /no traces/);
  assert.throws(
    () => fitTokenBias(trainMlp(embedding, examples, { epochs: 1, hidden: 4 }).model, examples, 0),
    /penalty must be positive, got 0/,
  );
});
