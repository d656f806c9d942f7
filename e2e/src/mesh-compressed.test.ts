// The mesh serves compressed checkpoints: greedy generation through real shards (low-bit experts in
// MatMulNBits sessions in the shards' compute workers; merged experts behind the gate's slot map) equals
// the in-process runtime of the same checkpoint, token for token.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh } from "@expertmesh/cli/launcher";
import {
  calibrate,
  calibrateDynamicPruning,
  mergeCheckpoint,
  quantizeCheckpoint,
  writeDynamicPruningCheckpoint,
} from "@expertmesh/compress";
import { BUNDLED_MODEL_DIR, generate, MoeRuntime, TextTokenizer } from "@expertmesh/model";
import { PROMPTS } from "./reference.js";

const MAX_TOKENS = 16;
const dir = mkdtempSync(join(tmpdir(), "em-mesh-compressed-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function inProcess(model: string): Promise<number[][]> {
  const rt = await MoeRuntime.load(model);
  try {
    const tok = TextTokenizer.load(model, rt.config);
    const out: number[][] = [];
    for (const p of PROMPTS) out.push((await generate(rt, [tok.encodePrompt(p)], { maxTokens: MAX_TOKENS })).tokens[0]);
    return out;
  } finally {
    await rt.release();
  }
}

async function throughMesh(model: string, shards: number, deviceBudget: string): Promise<number[][]> {
  const mesh = await startMesh({ model, shards, replicas: 1, deviceBudget, predictor: false });
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
  try {
    return (await Promise.all(PROMPTS.map((p) => client.complete(p, { maxTokens: MAX_TOKENS })))).map((r) => r.tokenIds);
  } finally {
    client.close();
    await mesh.stop();
  }
}

test("a mixed-precision quantised checkpoint (2/4/8-bit experts) through 2 shards at 25 % = in-process, token for token", async () => {
  const out = join(dir, "q");
  const rt = await MoeRuntime.load(BUNDLED_MODEL_DIR);
  try {
    const tok = TextTokenizer.load(BUNDLED_MODEL_DIR, rt.config);
    const cal = await calibrate(
      rt,
      PROMPTS.map((p) => tok.encodePrompt(p)),
    );
    const report = await quantizeCheckpoint(rt.checkpoint, cal, out, { avgBits: 3.5 });
    assert.ok(new Set(report.bits.flat()).size > 1, "the solver mixed widths");
  } finally {
    await rt.release();
  }
  assert.deepEqual(await throughMesh(out, 2, "25%"), await inProcess(out));
});

test("a merged checkpoint (8 of 16 experts per layer, gate slots mapped) through 2 shards at 50 % = in-process, token for token", async () => {
  const out = join(dir, "merged");
  const rt = await MoeRuntime.load(BUNDLED_MODEL_DIR);
  try {
    const tok = TextTokenizer.load(BUNDLED_MODEL_DIR, rt.config);
    const { stats } = await calibrate(
      rt,
      PROMPTS.map((p) => tok.encodePrompt(p)),
      { samplesPerExpert: 0 },
    );
    mergeCheckpoint(rt.checkpoint, stats, out, { expertsPerLayer: 8, method: "merge" });
  } finally {
    await rt.release();
  }
  assert.deepEqual(await throughMesh(out, 2, "50%"), await inProcess(out));
});

test("online dynamic pruning (thresholds in config.json, applied by the router's runtime) through 2 shards = in-process, token for token", async () => {
  const out = join(dir, "odp");
  const rt = await MoeRuntime.load(BUNDLED_MODEL_DIR);
  try {
    const tok = TextTokenizer.load(BUNDLED_MODEL_DIR, rt.config);
    const cal = await calibrate(
      rt,
      PROMPTS.map((p) => tok.encodePrompt(p)),
      { samplesPerExpert: 0 },
    );
    writeDynamicPruningCheckpoint(BUNDLED_MODEL_DIR, out, calibrateDynamicPruning(cal, 0.3));
  } finally {
    await rt.release();
  }
  assert.deepEqual(await throughMesh(out, 2, "50%"), await inProcess(out));
});
