import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, TensorError, CheckpointError } from "./errors.js";
import { MoeRuntime } from "./runtime.js";
import { TINY, writeTinyModel } from "./testing.js";

const root = mkdtempSync(join(tmpdir(), "checkpoint-test-"));
const ids = [0, 5, 17, 3, 42, 9, 11];

async function logitsOf(dir: string): Promise<Float32Array> {
  const rt = await MoeRuntime.load(dir);
  try {
    const [l] = await rt.step([{ sequence: rt.newSequence(), tokens: ids }], { allLogits: true });
    return l;
  } finally {
    await rt.release();
  }
}

test("a sharded checkpoint (index + 3 files) computes the same logits as the single-file one", async () => {
  const single = await logitsOf(writeTinyModel(join(root, "single")));
  const sharded = await logitsOf(writeTinyModel(join(root, "sharded"), { shards: 3 }));
  assert.equal(single.length, ids.length * TINY.V);
  assert.deepEqual(sharded, single);
});

test("a tensor of the wrong shape is named with the shape the config implies", async () => {
  const dir = writeTinyModel(join(root, "bad-shape"), {
    override: { "model.layers.1.self_attn.k_proj.weight": { data: new Float32Array(5 * TINY.D), shape: [5, TINY.D] } },
  });
  await assert.rejects(
    MoeRuntime.load(dir),
    (e) =>
      e instanceof TensorError &&
      e.tensor === "model.layers.1.self_attn.k_proj.weight" &&
      /shape \[5,16\] but the config implies \[8,16\]/.test(e.message),
  );
});

test("a missing tensor, an unknown architecture and a missing directory get named errors", async () => {
  const missing = writeTinyModel(join(root, "missing"), { shards: 2 });
  rmSync(join(missing, "model-00002-of-00002.safetensors"));
  await assert.rejects(
    MoeRuntime.load(missing),
    (e) => e instanceof CheckpointError && /model-00002-of-00002\.safetensors: cannot open/.test(e.message),
  );
  const arch = writeTinyModel(join(root, "arch"), { config: { architectures: ["GPTNeoXForCausalLM"] } });
  await assert.rejects(
    MoeRuntime.load(arch),
    (e) => e instanceof ConfigError && e.key === "architectures" && /GPTNeoXForCausalLM/.test(e.message),
  );
  const topk = writeTinyModel(join(root, "topk"), { config: { num_experts_per_tok: 9 } });
  await assert.rejects(MoeRuntime.load(topk), (e) => e instanceof ConfigError && e.key === "num_experts_per_tok");
  await assert.rejects(
    MoeRuntime.load(join(root, "nowhere")),
    (e) => e instanceof CheckpointError && /model directory not found/.test(e.message),
  );
});
