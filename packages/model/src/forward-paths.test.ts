// The two forward paths compute the same model: the fused one (experts inside the layer graphs, one
// onnxruntime MoE node per layer) and the seam one (experts through the in-process ExpertRunner).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BUNDLED_MODEL_DIR } from "./bundled.js";
import { FAMILY_FIXTURES, FAMILY_FIXTURES_DIR } from "./families.js";
import { argmax } from "./sampling.js";
import { MoeRuntime, type LayerRouting } from "./runtime.js";

let fused: MoeRuntime;
let seam: MoeRuntime;
before(async () => {
  fused = await MoeRuntime.load(BUNDLED_MODEL_DIR);
  seam = await MoeRuntime.load(BUNDLED_MODEL_DIR, { forward: "seam" });
});
after(async () => {
  await fused.release();
  await seam.release();
});

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const prompts = [
  [0, 812, 33, 1024, 7, 99, 3001],
  [0, 55],
  [0, 4000, 12, 12, 12, 400, 401, 402, 403, 404, 405],
];

test("the default path is fused; an ExpertRunner or forward: seam gives the seam path", () => {
  assert.equal(fused.forward, "fused");
  assert.equal(seam.forward, "seam");
});

test("fused and seam paths agree on logits (1e-4) and routing over a batched prefill and 8 decode steps", async () => {
  const a = prompts.map(() => fused.newSequence());
  const b = prompts.map(() => seam.newSequence());
  const ra: LayerRouting[] = [];
  const rb: LayerRouting[] = [];
  let la = await fused.step(
    prompts.map((tokens, i) => ({ sequence: a[i], tokens })),
    { allLogits: true, onRouting: (r) => ra.push(r) },
  );
  let lb = await seam.step(
    prompts.map((tokens, i) => ({ sequence: b[i], tokens })),
    { allLogits: true, onRouting: (r) => rb.push(r) },
  );
  for (let step = 0; step <= 8; step++) {
    la.forEach((x, i) => {
      assert.ok(maxAbsDiff(x, lb[i]) < 1e-4, `step ${step} prompt ${i}: max |diff| ${maxAbsDiff(x, lb[i])}`);
    });
    assert.deepEqual(
      ra.map((r) => [r.layer, Array.from(r.experts)]),
      rb.map((r) => [r.layer, Array.from(r.experts)]),
      `routing at step ${step}`,
    );
    const next = la.map((x) => argmax(x.subarray(x.length - fused.config.vocabSize)));
    ra.length = rb.length = 0;
    la = await fused.step(
      next.map((t, i) => ({ sequence: a[i], tokens: [t] })),
      { onRouting: (r) => ra.push(r) },
    );
    lb = await seam.step(
      next.map((t, i) => ({ sequence: b[i], tokens: [t] })),
      { onRouting: (r) => rb.push(r) },
    );
  }
});

test("families whose gate onnxruntime's MoE operator computes take the fused path; DeepSeek-V3's sigmoid gate the seam path", async () => {
  const paths: Record<string, string> = {};
  for (const family of FAMILY_FIXTURES) {
    const rt = await MoeRuntime.load(join(FAMILY_FIXTURES_DIR, family));
    paths[family] = rt.forward;
    await rt.release();
  }
  assert.deepEqual(paths, { deepseek_v3: "seam", kimi_k2: "seam", olmoe: "fused", qwen2_moe: "fused", qwen3_moe: "fused" });
  await assert.rejects(MoeRuntime.load(join(FAMILY_FIXTURES_DIR, "deepseek_v3"), { forward: "fused" }), /the fused path cannot run .*gate/);
});

test("two steps in flight at once on one fused runtime give the logits each gives alone", async () => {
  const two = prompts.slice(0, 2);
  const seqA = two.map(() => fused.newSequence());
  const seqB = two.map(() => fused.newSequence());
  for (const [i, p] of two.entries()) {
    await fused.step([{ sequence: seqA[i], tokens: p }]);
    await fused.step([{ sequence: seqB[i], tokens: p }]);
  }
  const alone: Float32Array[] = [];
  for (const s of seqA) alone.push((await fused.step([{ sequence: s, tokens: [17] }]))[0]);
  const both = await Promise.all(seqB.map((s) => fused.step([{ sequence: s, tokens: [17] }])));
  both.forEach(([x], i) => {
    assert.equal(maxAbsDiff(x, alone[i]), 0, `prompt ${i}`);
  });
});

test("at two threads the fused path cuts each expert in two slices and computes what one thread does (1e-5) with the same routing", async () => {
  const dirs = [BUNDLED_MODEL_DIR, ...["olmoe", "qwen2_moe", "qwen3_moe"].map((f) => join(FAMILY_FIXTURES_DIR, f))];
  for (const dir of dirs) {
    const two = await MoeRuntime.load(dir, { session: { threads: 2, executionProvider: "cpu" } });
    const one = dir === BUNDLED_MODEL_DIR ? fused : await MoeRuntime.load(dir);
    const V = one.config.vocabSize;
    const a = prompts.map(() => one.newSequence());
    const b = prompts.map(() => two.newSequence());
    let tokens = prompts.map((p) => p.map((t) => t % V));
    for (let step = 0; step <= 4; step++) {
      const ra: LayerRouting[] = [];
      const rb: LayerRouting[] = [];
      const la = await one.step(
        tokens.map((t, i) => ({ sequence: a[i], tokens: t })),
        { onRouting: (r) => ra.push(r) },
      );
      const lb = await two.step(
        tokens.map((t, i) => ({ sequence: b[i], tokens: t })),
        { onRouting: (r) => rb.push(r) },
      );
      la.forEach((x, i) => {
        assert.ok(maxAbsDiff(x, lb[i]) < 1e-5, `${dir} step ${step} prompt ${i}: max |diff| ${maxAbsDiff(x, lb[i])}`);
      });
      assert.deepEqual(
        ra.map((r) => Array.from(r.experts)),
        rb.map((r) => Array.from(r.experts)),
        `${dir} routing at step ${step}`,
      );
      tokens = la.map((x) => [argmax(x)]);
    }
    await two.release();
    if (one !== fused) await one.release();
  }
});
