import assert from "node:assert/strict";
import { test } from "node:test";
import { argmax, sampleToken, seededRandom } from "./sampling.js";

test("temperature 0 is greedy", () => {
  assert.equal(sampleToken(Float32Array.from([0.1, 2, 1.9]), { temperature: 0, topP: 1 }, seededRandom(1)), 1);
  assert.equal(argmax(Float32Array.from([-1, -3, -0.5])), 2);
});

test("top-p keeps only the smallest set of tokens whose probability reaches p", () => {
  // probabilities about 0.66, 0.24, 0.09, 0.01: top_p 0.8 keeps the first two tokens only
  const logits = Float32Array.from([3, 2, 1, -1]);
  const random = seededRandom(3);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) seen.add(sampleToken(logits, { temperature: 1, topP: 0.8 }, random));
  assert.deepEqual([...seen].sort(), [0, 1]);
});

test("at temperature 1 and top_p 1 draws follow softmax (20,000 draws, within 0.015)", () => {
  const logits = Float32Array.from([1, 0, -1, 0.5]);
  const z = Array.from(logits, Math.exp).reduce((a, b) => a + b, 0);
  const counts = [0, 0, 0, 0];
  const random = seededRandom(11);
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sampleToken(logits, { temperature: 1, topP: 1 }, random)]++;
  counts.forEach((c, i) => {
    assert.ok(Math.abs(c / n - Math.exp(logits[i]) / z) < 0.015, `token ${i}: ${c / n}`);
  });
});
