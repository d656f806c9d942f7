// The MoE-input hook of MoeRuntime.step and the pre-gate baseline built on it, on the bundled model,
// against a reference computed here (RMSNorm and gate written out in plain loops).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { gate } from "@expertmesh/moe";
import { preGatePredictions } from "./pre-gate.js";
import { MoeRuntime, type LayerRouting, type MoeInput } from "./runtime.js";
import { BUNDLED_MODEL_DIR } from "./testing.js";
import { recordTrace } from "./trace-record.js";

let rt: MoeRuntime;
before(async () => {
  rt = await MoeRuntime.load(BUNDLED_MODEL_DIR);
});
after(async () => rt.release());

const tokens = [0, 464, 1181, 300, 301, 302, 57, 1000, 2000, 12];

/** Reference: top-k of layer l's gate applied to rmsnorm(x; layer l's post-attention norm), for x [N, D]. */
function referenceTopK(x: Float32Array, layer: number): Int32Array {
  const { hiddenSize: D, numExperts: E, topK: k, rmsNormEps } = rt.config;
  const c = rt.checkpoint;
  const w = c.tensor(c.adapter.postAttentionNorm(layer), [D]);
  const g = c.tensor(c.adapter.gate(layer), [E, D]);
  const N = x.length / D;
  const logits = new Float32Array(N * E);
  for (let n = 0; n < N; n++) {
    const row = Array.from(x.subarray(n * D, (n + 1) * D));
    const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / D + rmsNormEps);
    for (let e = 0; e < E; e++) logits[n * E + e] = row.reduce((s, v, d) => s + g[e * D + d] * (v / rms) * w[d], 0);
  }
  return gate(logits, E, k).experts;
}

test("onMoeInput gives each layer's residual and normed input, from which the layer's own gate gives its routing", async () => {
  const inputs: MoeInput[] = [];
  const routing: LayerRouting[] = [];
  await rt.step([{ sequence: rt.newSequence(), tokens }], { onMoeInput: (i) => inputs.push(i), onRouting: (r) => routing.push(r) });
  const { numLayers: L, hiddenSize: D } = rt.config;
  assert.deepEqual(
    inputs.map((i) => i.layer),
    Array.from({ length: L }, (_, l) => l),
  );
  for (const [l, input] of inputs.entries()) {
    assert.equal(input.residual.length, tokens.length * D);
    assert.deepEqual(Array.from(referenceTopK(input.residual, l)), Array.from(routing[l].experts), `layer ${l}`);
  }
});

test("the pre-gate predicts layer l from layer l-1's MoE input, and layer 0 from the token embedding", async () => {
  const trace = await recordTrace(rt, [tokens, tokens.slice(0, 4)]);
  const predicted = await preGatePredictions(rt, trace);
  const { numLayers: L, hiddenSize: D, topK: k } = rt.config;
  const c = rt.checkpoint;
  const embed = c.tensor(c.adapter.embedTokens, [rt.config.vocabSize, D]);
  const inputs: MoeInput[] = [];
  await rt.step([{ sequence: rt.newSequence(), tokens }], { onMoeInput: (i) => inputs.push(i) });
  const x0 = new Float32Array(tokens.length * D);
  tokens.forEach((t, s) => {
    x0.set(embed.subarray(t * D, (t + 1) * D), s * D);
  });
  for (let l = 0; l < L; l++) {
    const expected = referenceTopK(l === 0 ? x0 : inputs[l - 1].residual, l);
    const got = tokens.flatMap((_, s) => Array.from(predicted.subarray((s * L + l) * k, (s * L + l + 1) * k)));
    assert.deepEqual(got, Array.from(expected), `layer ${l}`);
  }
});

test("the pre-gate refuses a trace that the model routes differently", async () => {
  const trace = await recordTrace(rt, [tokens]);
  const E = rt.config.numExperts;
  trace.experts.forEach((e, i) => {
    trace.experts[i] = (e + 1) % E;
  });
  await assert.rejects(
    preGatePredictions(rt, trace),
    /routes 100\.0 % of the trace's choices differently: the trace was recorded with other weights/,
  );
});
