import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MoeRuntime } from "@expertmesh/model";
import { TINY, writeTinyModel } from "@expertmesh/model/testing";
import { calibrate } from "./calibrate.js";
import { calibrateDynamicPruning, writeDynamicPruningCheckpoint } from "./odp-checkpoint.js";

const dir = mkdtempSync(join(tmpdir(), "em-odp-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const tokens = Array.from({ length: 30 }, (_, i) => (i * 5 + 1) % TINY.V);

async function logitsOf(modelDir: string) {
  const rt = await MoeRuntime.load(modelDir);
  try {
    const [logits] = await rt.step([{ sequence: rt.newSequence(), tokens }], { allLogits: true });
    return { logits, counters: { ...rt.pruningCounters } };
  } finally {
    await rt.release();
  }
}

test("ODP with beta 1 and no protection computes the top-1 model (each token's first expert at weight 1) (1e-5)", async () => {
  const src = writeTinyModel(join(dir, "f32"), { seed: 6 });
  const odp = join(dir, "odp");
  writeDynamicPruningCheckpoint(src, odp, { beta: new Array(TINY.L).fill(1), protectShare: 0 });
  const top1 = writeTinyModel(join(dir, "top1"), { seed: 6, config: { num_experts_per_tok: 1 } });
  const [a, b] = [await logitsOf(odp), await logitsOf(top1)];
  a.logits.forEach((v, i) => {
    assert.ok(Math.abs(v - b.logits[i]) < 1e-5, `logit ${i}`);
  });
  assert.equal(a.counters.skipped, tokens.length * TINY.L);
  assert.equal(a.counters.routed, tokens.length * TINY.L * TINY.k);
});

test("calibrated thresholds skip about the target share of second experts on the calibration tokens (protect 0)", async () => {
  const src = writeTinyModel(join(dir, "f32b"), { seed: 8 });
  const rt = await MoeRuntime.load(src);
  const odp = calibrateDynamicPruning(await calibrate(rt, [tokens], { samplesPerExpert: 0 }), 0.3, 0);
  await rt.release();
  const out = join(dir, "odp30");
  writeDynamicPruningCheckpoint(src, out, odp);
  const { counters } = await logitsOf(out);
  const share = counters.skipped / (tokens.length * TINY.L);
  assert.ok(Math.abs(share - 0.3) <= 0.05, `skipped share ${share}`);
});

test("protect_score reaches the runtime: the reference score protects other tokens than the L1 norm alone; a bad score is refused", async () => {
  const src = writeTinyModel(join(dir, "f32c"), { seed: 7 });
  const settings = { beta: new Array(TINY.L).fill(1), protectShare: 0.3 };
  writeDynamicPruningCheckpoint(src, join(dir, "ref"), { ...settings, protectScore: "reference" });
  writeDynamicPruningCheckpoint(src, join(dir, "l1"), { ...settings, protectScore: "l1" });
  const [a, b] = [await logitsOf(join(dir, "ref")), await logitsOf(join(dir, "l1"))];
  assert.equal(a.counters.skipped, b.counters.skipped, "the same number of tokens is protected");
  assert.ok(
    a.logits.some((v, i) => Math.abs(v - b.logits[i]) > 1e-4),
    "different tokens kept both experts",
  );
  const cal = await (async () => {
    const rt = await MoeRuntime.load(src);
    try {
      return await calibrate(rt, [tokens], { samplesPerExpert: 0 });
    } finally {
      await rt.release();
    }
  })();
  assert.equal(calibrateDynamicPruning(cal, 0.2).protectScore, "reference");
  assert.throws(() => calibrateDynamicPruning(cal, 0.2, 0.1, "attention" as never), /--protect-score must be one of l1, reference/);
});
