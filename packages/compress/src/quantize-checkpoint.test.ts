import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Checkpoint, dequantizeNbits, EXPERT_WEIGHTS, MoeRuntime, type TensorToWrite } from "@expertmesh/model";
import { TINY, writeTinyModel } from "@expertmesh/model/testing";
import { calibrate } from "./calibrate.js";
import { CompressError } from "./checkpoint-write.js";
import { quantizeCheckpoint } from "./quantize-checkpoint.js";

const dir = mkdtempSync(join(tmpdir(), "em-quantize-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const src = writeTinyModel(join(dir, "f32"), { seed: 9 });
const tokens = Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % TINY.V);

async function lastLogits(modelDir: string): Promise<Float32Array> {
  const rt = await MoeRuntime.load(modelDir);
  try {
    const [logits] = await rt.step([{ sequence: rt.newSequence(), tokens }], { allLogits: true });
    return logits;
  } finally {
    await rt.release();
  }
}

test("a quantised checkpoint runs in the runtime with the logits of the f32 model holding its dequantised experts (2e-2 relative)", async () => {
  const rt = await MoeRuntime.load(src);
  const cal = await calibrate(rt, [tokens]);
  const out = join(dir, "q");
  const report = await quantizeCheckpoint(rt.checkpoint, cal, out, { avgBits: 4 });
  await rt.release();
  assert.equal(report.meanBits <= 4, true);
  // The reference: the same experts dequantised to f32 in a plain checkpoint, run by the f32 path.
  const q = Checkpoint.open(out);
  const override: Record<string, TensorToWrite> = {};
  for (let l = 0; l < TINY.L; l++) {
    for (let e = 0; e < TINY.E; e++) {
      const x = q.nbitsExpert(l, e);
      for (const w of EXPERT_WEIGHTS)
        override[q.adapter.expert(l, e, w)] = { data: dequantizeNbits(x[w]), shape: w === "w2" ? [TINY.D, TINY.F] : [TINY.F, TINY.D] };
    }
  }
  const ref = writeTinyModel(join(dir, "dequantised"), { seed: 9, override });
  const [a, b] = [await lastLogits(out), await lastLogits(ref)];
  const norm = Math.sqrt(b.reduce((s, v) => s + v * v, 0));
  const err = Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
  assert.ok(err <= 2e-2 * norm, `error ${err} of norm ${norm}`);
  assert.equal(q.expertBytes(0, 0) < (3 * TINY.D * TINY.F * 4) / 2, true);
});

test("quantising an already quantised checkpoint, or to 3 bits, is a CompressError naming the problem", async () => {
  const out = join(dir, "u4");
  const rt = await MoeRuntime.load(src);
  const cal = await calibrate(rt, [tokens]);
  await quantizeCheckpoint(rt.checkpoint, cal, out, { avgBits: 4, uniform: 4 });
  await assert.rejects(
    quantizeCheckpoint(rt.checkpoint, cal, join(dir, "b3"), { avgBits: 3, widths: [2, 3, 4] }),
    (e: Error) => e instanceof CompressError && /bit width 3 is not supported.*2, 4, 8/.test(e.message),
  );
  await rt.release();
  const qrt = await MoeRuntime.load(out);
  await assert.rejects(
    quantizeCheckpoint(qrt.checkpoint, cal, join(dir, "again"), { avgBits: 4 }),
    (e: Error) => e instanceof CompressError && /already quantized/.test(e.message),
  );
  await qrt.release();
});

test("per-layer allocation keeps every layer within the average; the global one only the whole model", async () => {
  const rt = await MoeRuntime.load(src);
  const cal = await calibrate(rt, [tokens]);
  const layer = await quantizeCheckpoint(rt.checkpoint, cal, join(dir, "perlayer"), { avgBits: 3, allocation: "layer" });
  const global = await quantizeCheckpoint(rt.checkpoint, cal, join(dir, "global"), { avgBits: 3 });
  await rt.release();
  const mean = (b: number[]) => b.reduce((a, x) => a + x, 0) / b.length;
  for (const row of layer.bits) assert.ok(mean(row) <= 3, `layer mean ${mean(row)}`);
  assert.ok(mean(global.bits.flat()) <= 3);
  // The global optimum of the same costs is never worse than the per-layer one.
  const cost = (bits: number[][]) => {
    let c = 0;
    bits.forEach((row, l) => {
      row.forEach((b, e) => {
        const s = cal.stats.layers[l];
        c += s.frequency[e] * s.meanWeight[e] ** 1.5 * layer.error[l][e][layer.widths.indexOf(b)];
      });
    });
    return c;
  };
  assert.ok(cost(global.bits) <= cost(layer.bits) * (1 + 1e-9));
});
