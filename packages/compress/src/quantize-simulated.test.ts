import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Checkpoint, expertNbitsBytes, MoeRuntime } from "@expertmesh/model";
import { TINY, writeTinyModel } from "@expertmesh/model/testing";
import { calibrate } from "./calibrate.js";
import { CompressError } from "./checkpoint-write.js";
import { quantizeCheckpoint } from "./quantize-checkpoint.js";
import { simulateUniformQuantization } from "./quantize-simulated.js";

const dir = mkdtempSync(join(tmpdir(), "em-simq-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const src = writeTinyModel(join(dir, "f32"), { seed: 5 });
const tokens = Array.from({ length: 40 }, (_, i) => (i * 5 + 1) % TINY.V);

async function logits(modelDir: string): Promise<Float32Array> {
  const rt = await MoeRuntime.load(modelDir);
  try {
    return (await rt.step([{ sequence: rt.newSequence(), tokens }], { allLogits: true }))[0];
  } finally {
    await rt.release();
  }
}

test("simulated 4-bit RTN computes what the 4-bit MatMulNBits checkpoint computes (2e-2 relative) and costs its bytes", async () => {
  const rt = await MoeRuntime.load(src);
  const cal = await calibrate(rt, [tokens]);
  const real = await quantizeCheckpoint(rt.checkpoint, cal, join(dir, "q4"), { avgBits: 4, uniform: 4 });
  await rt.release();
  const sim = simulateUniformQuantization(Checkpoint.open(src), join(dir, "s4"), 4);
  assert.equal(sim.expertBytes, real.expertBytes);
  const [a, b] = [await logits(join(dir, "s4")), await logits(join(dir, "q4"))];
  const norm = Math.sqrt(b.reduce((s, v) => s + v * v, 0));
  const err = Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
  assert.ok(err <= 2e-2 * norm, `error ${err} of norm ${norm}`);
});

test("simulated 3 bits: bytes of the 3-bit layout, weights on a 3-bit grid per group, closer to f32 than 2 bits", async () => {
  const c = Checkpoint.open(src);
  const s3 = simulateUniformQuantization(c, join(dir, "s3"), 3);
  simulateUniformQuantization(c, join(dir, "s2"), 2);
  assert.equal(s3.expertBytes, TINY.L * TINY.E * expertNbitsBytes(TINY.D, TINY.F, 3, 32));
  const w = Checkpoint.open(join(dir, "s3")).expert(0, 1).w1; // [F, D], groups of 32 inputs along D
  for (let r = 0; r < TINY.F; r++) {
    for (let g = 0; g < TINY.D; g += 32) {
      const distinct = new Set(w.subarray(r * TINY.D + g, r * TINY.D + Math.min(g + 32, TINY.D)));
      assert.ok(distinct.size <= 8, `row ${r} group ${g}: ${distinct.size} values`);
    }
  }
  const f = await logits(src);
  const dist = async (d: string) => {
    const x = await logits(d);
    return Math.sqrt(x.reduce((s, v, i) => s + (v - f[i]) ** 2, 0));
  };
  assert.ok((await dist(join(dir, "s3"))) < (await dist(join(dir, "s2"))));
  assert.throws(
    () => simulateUniformQuantization(c, join(dir, "x"), 9),
    (e: Error) => e instanceof CompressError && /2\.\.8, got 9/.test(e.message),
  );
});

test("quantizeCheckpoint --simulate writes the solver's codes dequantised (3 bits allowed), equal to simulated uniform at one width", async () => {
  const rt = await MoeRuntime.load(src);
  const cal = await calibrate(rt, [tokens]);
  await rt.release();
  const c = Checkpoint.open(src);
  const u = await quantizeCheckpoint(c, cal, join(dir, "qs3"), { avgBits: 3, uniform: 3, simulate: true });
  simulateUniformQuantization(c, join(dir, "us3"), 3);
  assert.deepEqual(Checkpoint.open(join(dir, "qs3")).expert(1, 2).w2, Checkpoint.open(join(dir, "us3")).expert(1, 2).w2);
  assert.equal(u.expertBytes, TINY.L * TINY.E * expertNbitsBytes(TINY.D, TINY.F, 3, 32));
  const m = await quantizeCheckpoint(c, cal, join(dir, "ms"), { avgBits: 3.5, widths: [2, 3, 4, 8], simulate: true });
  assert.ok(m.meanBits <= 3.5);
  assert.equal(Checkpoint.open(join(dir, "ms")).quantization, null, "a simulated checkpoint runs as f32");
  await assert.rejects(quantizeCheckpoint(c, cal, join(dir, "x"), { avgBits: 3, widths: [1, 3], simulate: true }), /2\.\.8, got 1/);
});
