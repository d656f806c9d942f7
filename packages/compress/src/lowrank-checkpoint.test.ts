import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Checkpoint, EXPERT_WEIGHTS, MoeRuntime, reconstructLowRankExpert, type TensorToWrite } from "@expertmesh/model";
import { TINY, writeTinyModel } from "@expertmesh/model/testing";
import { calibrate } from "./calibrate.js";
import { CompressError } from "./checkpoint-write.js";
import { lowRankCheckpoint } from "./lowrank-checkpoint.js";
import { mergeCheckpoint } from "./merge-checkpoint.js";
import { quantizeCheckpoint } from "./quantize-checkpoint.js";

const dir = mkdtempSync(join(tmpdir(), "em-lowrank-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const src = writeTinyModel(join(dir, "f32"), { seed: 6 });
const tokens = Array.from({ length: 48 }, (_, i) => (i * 13 + 5) % TINY.V);

async function withRt<T>(d: string, f: (rt: MoeRuntime) => Promise<T>): Promise<T> {
  const rt = await MoeRuntime.load(d);
  try {
    return await f(rt);
  } finally {
    await rt.release();
  }
}
const logits = (d: string) => withRt(d, async (rt) => (await rt.step([{ sequence: rt.newSequence(), tokens }], { allLogits: true }))[0]);

test("a merged then low-rank checkpoint loads in the runtime and computes what its factors multiply out to (1e-4 relative)", async () => {
  const merged = join(dir, "merged");
  const stats = await withRt(src, async (rt) => (await calibrate(rt, [tokens], { samplesPerExpert: 0 })).stats);
  mergeCheckpoint(Checkpoint.open(src), stats, merged, { expertsPerLayer: 2, method: "merge" });
  const cal = await withRt(merged, (rt) => calibrate(rt, [tokens]));
  const out = join(dir, "lowrank");
  const rank = Math.min(TINY.D, TINY.F) / 4;
  const report = lowRankCheckpoint(Checkpoint.open(merged), cal, out, { rank, sparseColumns: 2 });
  const c = Checkpoint.open(out);
  assert.deepEqual(c.lowRank, { method: "mc_smoe_lowrank_sparse", rank, sparseColumns: 2 });
  let bytes = 0;
  for (let l = 0; l < TINY.L; l++) for (let e = 0; e < TINY.E; e++) if (c.isStored(l, e)) bytes += c.expertBytes(l, e);
  assert.equal(bytes, report.expertBytes);
  assert.ok(report.expertBytes < report.storedF32Bytes, `${report.expertBytes} of ${report.storedF32Bytes}`);
  assert.throws(() => c.expert(0, 0), /low-rank plus sparse, not f32/);
  // Reference: the merged checkpoint with every stored expert replaced by its dense reconstruction B·A + S.
  const override: Record<string, TensorToWrite> = {};
  for (let l = 0; l < TINY.L; l++) {
    for (let e = 0; e < TINY.E; e++) {
      const w = reconstructLowRankExpert(c.lowRankExpert(l, e)); // a merged-away slot reads its group's expert
      for (const k of EXPERT_WEIGHTS)
        override[c.adapter.expert(l, e, k)] = { data: w[k], shape: k === "w2" ? [TINY.D, TINY.F] : [TINY.F, TINY.D] };
    }
  }
  const ref = writeTinyModel(join(dir, "dense"), { seed: 6, override });
  const [a, b] = [await logits(out), await logits(ref)];
  const norm = Math.sqrt(b.reduce((s, v) => s + v * v, 0));
  const err = Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
  assert.ok(err <= 1e-4 * norm, `error ${err} of norm ${norm}`);
});

test("low-rank rejects a quantized source, a rank above min(D, F), and decomposing twice; merging or quantizing it is refused", async () => {
  const cal = await withRt(src, (rt) => calibrate(rt, [tokens]));
  const q = join(dir, "q4");
  await quantizeCheckpoint(Checkpoint.open(src), cal, q, { avgBits: 4, uniform: 4 });
  const bad = (f: () => unknown, re: RegExp) => assert.throws(f, (e: Error) => e instanceof CompressError && re.test(e.message));
  bad(() => lowRankCheckpoint(Checkpoint.open(q), cal, join(dir, "x"), { rank: 2, sparseColumns: 0 }), /is quantized/);
  const max = Math.min(TINY.D, TINY.F);
  bad(
    () => lowRankCheckpoint(Checkpoint.open(src), cal, join(dir, "x"), { rank: max + 1, sparseColumns: 0 }),
    new RegExp(`0\\.\\.${max}.*got ${max + 1}`),
  );
  const lr = join(dir, "lr2");
  lowRankCheckpoint(Checkpoint.open(src), cal, lr, { rank: 2, sparseColumns: 1 });
  bad(() => lowRankCheckpoint(Checkpoint.open(lr), cal, join(dir, "x"), { rank: 2, sparseColumns: 1 }), /already low-rank/);
  bad(() => mergeCheckpoint(Checkpoint.open(lr), cal.stats, join(dir, "x"), { expertsPerLayer: 2, method: "merge" }), /is low-rank/);
  await assert.rejects(quantizeCheckpoint(Checkpoint.open(lr), cal, join(dir, "x"), { avgBits: 4 }), /is low-rank/);
});
