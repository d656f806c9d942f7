import assert from "node:assert/strict";
import { test } from "node:test";
import { gate } from "./gate.js";
import { MIXTRAL_GATE, route, type GateSpec } from "./gate-route.js";

// An independent formulation of DeepSeek-V3's router (transformers DeepseekV3TopkRouter): sort-based,
// float64, groups ranked by the sum of their two best biased scores.
function referenceRoute(z: number[], k: number, G: number, Gk: number, bias: number[], scale: number, normalize: boolean) {
  const E = z.length;
  const s = z.map((x) => 1 / (1 + Math.exp(-x)));
  const c = s.map((v, e) => v + bias[e]);
  const per = E / G;
  const groups = Array.from({ length: G }, (_, g) => {
    const top = c.slice(g * per, (g + 1) * per).sort((a, b) => b - a);
    return [top[0] + top[1], g] as const;
  })
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, Gk)
    .map(([, g]) => g);
  const masked = c.map((v, e) => (groups.includes(Math.floor(e / per)) ? v : 0));
  const chosen = masked
    .map((v, e) => [v, e] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, e]) => e);
  const sum = chosen.reduce((a, e) => a + s[e], 0);
  return { experts: chosen, weights: chosen.map((e) => (normalize ? s[e] / sum : s[e]) * scale) };
}

function lcg(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
}

test("sigmoid scoring with a selection bias, 8 groups keeping 4, k=8 of E=256 matches a sort-based reference (1e-6)", () => {
  const rand = lcg(11);
  const E = 256,
    k = 8,
    G = 8,
    Gk = 4,
    N = 20;
  const spec: GateSpec = { scoring: "sigmoid", normalize: true, groups: G, topKGroups: Gk, scale: 2.5, selectionBias: true };
  const logits = Float32Array.from({ length: N * E }, () => 4 * rand());
  const bias = Float32Array.from({ length: E }, () => 0.3 * rand());
  const r = route(logits, E, k, spec, bias);
  for (let t = 0; t < N; t++) {
    const ref = referenceRoute(Array.from(logits.subarray(t * E, (t + 1) * E)), k, G, Gk, Array.from(bias), 2.5, true);
    assert.deepEqual(Array.from(r.experts.subarray(t * k, (t + 1) * k)), ref.experts);
    ref.weights.forEach((w, j) => {
      assert.ok(Math.abs(r.weights[t * k + j] - w) < 1e-6, `token ${t} slot ${j}`);
    });
  }
});

test("the selection bias changes which experts are chosen but not their weights' source (the unbiased scores)", () => {
  const E = 4;
  const logits = Float32Array.from([2, 1, 0, -1]);
  const spec: GateSpec = { scoring: "sigmoid", normalize: false, groups: 1, topKGroups: 1, scale: 1, selectionBias: true };
  const r = route(logits, E, 1, spec, Float32Array.from([0, 0, 0, 5]));
  assert.deepEqual(Array.from(r.experts), [3]);
  assert.ok(Math.abs(r.weights[0] - 1 / (1 + Math.exp(1))) < 1e-7);
});

test("experts of groups that were not kept are eligible only with choice score 0, as in HF's masked_fill(0.0)", () => {
  // Group 0 = {0,1} wins; its experts' biased scores are negative, so the masked experts (score 0) come next.
  const logits = Float32Array.from([0, 0, -8, -8]);
  const bias = Float32Array.from([-0.6, -0.65, -0.5, -0.5]);
  const spec: GateSpec = { scoring: "sigmoid", normalize: false, groups: 2, topKGroups: 1, scale: 1, selectionBias: true };
  const r = route(logits, 4, 2, spec, bias);
  const ref = referenceRoute([0, 0, -8, -8], 2, 2, 1, [-0.6, -0.65, -0.5, -0.5], 1, false);
  assert.deepEqual(Array.from(r.experts), ref.experts);
  assert.deepEqual(ref.experts, [2, 3]);
});

test("softmax without renormalisation keeps the chosen probabilities as they are (OLMoE, Qwen defaults)", () => {
  const logits = Float32Array.from([1, 2, 3, 0]);
  const r = route(logits, 4, 2, { ...MIXTRAL_GATE, normalize: false });
  const m = gate(logits, 4, 2);
  assert.deepEqual(Array.from(r.experts), [2, 1]);
  assert.deepEqual(Array.from(r.probs), Array.from(m.probs));
  assert.ok(Math.abs(r.weights[0] - m.probs[2]) < 1e-7 && Math.abs(r.weights[1] - m.probs[1]) < 1e-7);
});

test("the Mixtral spec reproduces gate() exactly", () => {
  const rand = lcg(3);
  const logits = Float32Array.from({ length: 30 * 16 }, () => 3 * rand());
  const a = route(logits, 16, 2, MIXTRAL_GATE);
  const b = gate(logits, 16, 2);
  assert.deepEqual(a.experts, b.experts);
  assert.deepEqual(a.weights, b.weights);
});

test("a grouping that does not divide E, or a missing bias, is refused with the values named", () => {
  const spec: GateSpec = { scoring: "sigmoid", normalize: true, groups: 3, topKGroups: 1, scale: 1, selectionBias: false };
  assert.throws(() => route(new Float32Array(8), 8, 2, spec), /3 groups of E=8/);
  assert.throws(
    () => route(new Float32Array(8), 8, 2, { ...spec, groups: 1, selectionBias: true }),
    /selection bias of E=8 values, got none/,
  );
});
