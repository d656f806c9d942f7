import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Checkpoint, EXPERT_WEIGHTS, MoeRuntime, type TensorToWrite } from "@expertmesh/model";
import { TINY, writeTinyModel } from "@expertmesh/model/testing";
import { calibrate } from "./calibrate.js";
import { CompressError } from "./checkpoint-write.js";
import { mergeCheckpoint } from "./merge-checkpoint.js";

const dir = mkdtempSync(join(tmpdir(), "em-merge-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const src = writeTinyModel(join(dir, "f32"), { seed: 4 });
const tokens = Array.from({ length: 48 }, (_, i) => (i * 11 + 2) % TINY.V);

async function run(modelDir: string) {
  const rt = await MoeRuntime.load(modelDir);
  try {
    const experts: number[] = [];
    const [logits] = await rt.step([{ sequence: rt.newSequence(), tokens }], {
      allLogits: true,
      onRouting: (r) => experts.push(...r.experts),
    });
    return { logits, experts };
  } finally {
    await rt.release();
  }
}

async function statsOf(modelDir: string) {
  const rt = await MoeRuntime.load(modelDir);
  try {
    return (await calibrate(rt, [tokens], { samplesPerExpert: 0 })).stats;
  } finally {
    await rt.release();
  }
}

test("a merged checkpoint runs like the f32 model whose every slot holds its group's merged expert (1e-5)", async () => {
  const out = join(dir, "merged");
  const report = mergeCheckpoint(Checkpoint.open(src), await statsOf(src), out, { expertsPerLayer: 2, method: "merge" });
  const merged = Checkpoint.open(out);
  assert.equal(new Set(report.slotMap[0]).size, 2);
  // Reference: no slot map, the merged weights copied into every member slot.
  const override: Record<string, TensorToWrite> = {};
  for (let l = 0; l < TINY.L; l++) {
    for (let e = 0; e < TINY.E; e++) {
      const w = merged.expert(l, e);
      for (const k of EXPERT_WEIGHTS)
        override[merged.adapter.expert(l, e, k)] = { data: w[k], shape: k === "w2" ? [TINY.D, TINY.F] : [TINY.F, TINY.D] };
    }
  }
  const ref = writeTinyModel(join(dir, "copies"), { seed: 4, override });
  const [a, b] = [await run(out), await run(ref)];
  a.logits.forEach((v, i) => {
    assert.ok(Math.abs(v - b.logits[i]) < 1e-5, `logit ${i}`);
  });
  const perLayer = tokens.length * TINY.k; // onRouting gives each layer's [N, k] in turn
  a.experts.forEach((e, i) => {
    assert.ok(report.dominant[Math.floor(i / perLayer)].includes(e), `routed to merged-away slot ${e}`);
  });
});

test("a pruned checkpoint routes only to the kept experts, whose weights are the source's", async () => {
  const out = join(dir, "pruned");
  const report = mergeCheckpoint(Checkpoint.open(src), await statsOf(src), out, { expertsPerLayer: 2, method: "prune" });
  const { experts } = await run(out);
  const perLayer = tokens.length * TINY.k;
  experts.forEach((e, i) => {
    assert.ok(report.dominant[Math.floor(i / perLayer)].includes(e), `routed to pruned expert ${e}`);
  });
  const [s, p] = [Checkpoint.open(src), Checkpoint.open(out)];
  const d = report.dominant[1][0];
  assert.deepEqual(p.expert(1, d).w2, s.expert(1, d).w2);
  assert.throws(() => p.expert(1, report.slotMap[1].indexOf(-1)), /pruned/);
});

test("replace sends each slot to its group's dominant expert unchanged; global grouping keeps L·K experts in all", async () => {
  const stats = await statsOf(src);
  const c = Checkpoint.open(src);
  const out = join(dir, "replaced");
  const report = mergeCheckpoint(c, stats, out, { expertsPerLayer: 2, method: "replace" });
  const r = Checkpoint.open(out);
  for (let l = 0; l < TINY.L; l++) {
    for (const d of report.dominant[l]) assert.deepEqual(r.expert(l, d).w1, c.expert(l, d).w1);
    for (const [e, m] of report.slotMap[l].entries()) assert.ok(report.dominant[l].includes(m), `layer ${l} slot ${e} -> ${m}`);
    assert.ok(report.collapse[l] >= 0 && report.collapse[l] <= 1);
  }
  const { experts } = await run(out);
  const perLayer = tokens.length * TINY.k;
  experts.forEach((e, i) => {
    assert.ok(report.dominant[Math.floor(i / perLayer)].includes(e));
  });
  const g = mergeCheckpoint(c, stats, join(dir, "global"), { expertsPerLayer: 2, method: "merge", grouping: "global" });
  assert.equal(
    g.dominant.reduce((a, d) => a + d.length, 0),
    2 * TINY.L,
  );
  assert.equal(g.expertBytes, 2 * TINY.L * 3 * TINY.D * TINY.F * 4);
  const p = mergeCheckpoint(c, stats, join(dir, "global-prune"), { expertsPerLayer: 2, method: "prune", grouping: "global" });
  for (const d of p.dominant) assert.ok(d.length >= TINY.k, "a pruned layer keeps at least k experts");
});

test("merge rejects K above E, K below k, and an already merged checkpoint, naming the values", async () => {
  const stats = await statsOf(src);
  const c = Checkpoint.open(src);
  assert.throws(
    () => mergeCheckpoint(c, stats, join(dir, "x"), { expertsPerLayer: 5, method: "merge" }),
    (e: Error) => e instanceof CompressError && /5 is more than the model's 4 experts/.test(e.message),
  );
  assert.throws(
    () => mergeCheckpoint(c, stats, join(dir, "x"), { expertsPerLayer: 1, method: "merge" }),
    /fewer than the 2 experts each token uses/,
  );
  mergeCheckpoint(c, stats, join(dir, "m3"), { expertsPerLayer: 3, method: "merge" });
  assert.throws(
    () => mergeCheckpoint(Checkpoint.open(join(dir, "m3")), stats, join(dir, "x"), { expertsPerLayer: 2, method: "merge" }),
    /already merged/,
  );
});
