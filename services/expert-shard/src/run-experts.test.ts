import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { Dtype } from "@expertmesh/proto";
import { tensorToFloat32 } from "@expertmesh/runtime";
import type { ShardServer } from "./server.js";
import { failure, hidden, referenceRunner, shardClient, startShard } from "./testing.js";

// Shard 0 of 2: it owns expert e of layer l when (l * E + e) is even, i.e. the even experts (E = 16).
// Two compute workers: experts spread over both, and each must compute exactly like the reference.
let shard: ShardServer;
let client: ReturnType<typeof shardClient>;
let reference: Awaited<ReturnType<typeof referenceRunner>>;
let D: number;

before(async () => {
  shard = await startShard([
    "--shards",
    "2",
    "--shard-id",
    "0",
    "--max-tokens-per-call",
    "512",
    "--compute",
    "worker",
    "--compute-workers",
    "2",
  ]);
  client = shardClient(shard.address);
  reference = await referenceRunner();
  D = reference.checkpoint.config.hiddenSize;
});

after(async () => {
  client.close();
  await reference.runner.release();
  await shard.drain();
});

test("RunExperts equals the in-process reference within 1e-5, for several experts and token counts", async () => {
  const cases = [
    { layer: 0, work: [{ expert: 0, rows: 1 }] },
    {
      layer: 1,
      work: [
        { expert: 2, rows: 7 },
        { expert: 4, rows: 64 },
        { expert: 14, rows: 1 },
        { expert: 6, rows: 300 },
      ],
    },
    {
      layer: 3,
      work: [
        { expert: 10, rows: 33 },
        { expert: 8, rows: 2 },
      ],
    },
  ];
  let seed = 1;
  for (const { layer, work } of cases) {
    const inputs = work.map((w) => ({ expertId: w.expert, hiddenStates: hidden(w.rows, D, seed++) }));
    const response = await client.runExperts({ layer, inputs });
    assert.equal(response.layer, layer);
    assert.deepEqual(
      response.outputs.map((o) => o.expertId),
      work.map((w) => w.expert),
      "one output per input, in order",
    );
    const expected = await reference.runner.run(
      layer,
      work.map((w, i) => ({ expert: w.expert, rows: w.rows, x: tensorToFloat32(inputs[i]!.hiddenStates, "x") })),
    );
    response.outputs.forEach((output, i) => {
      assert.deepEqual(output.output?.shape, [work[i]!.rows, D]);
      const got = tensorToFloat32(output.output, `outputs[${i}]`);
      const want = expected[i]!;
      let worst = 0;
      for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(got[j]! - want[j]!) / Math.max(1, Math.abs(want[j]!)));
      assert.ok(worst <= 1e-5, `layer ${layer} expert ${work[i]!.expert}: max error ${worst} > 1e-5`);
    });
  }
});

test("the resident experts are spread over the compute workers", () => {
  const perWorker = shard.shard.workerResidency();
  assert.equal(perWorker.length, 2);
  assert.ok(
    perWorker.every((n) => n > 0),
    `experts per worker: ${perWorker.join(", ")}`,
  );
});

test("was_resident is false when an expert had to be loaded and true once it is resident", async () => {
  const request = { layer: 2, inputs: [{ expertId: 12, hiddenStates: hidden(3, D, 99) }] };
  const first = await client.runExperts(request);
  const second = await client.runExperts(request);
  assert.equal(first.outputs[0]?.wasResident, false);
  assert.equal(second.outputs[0]?.wasResident, true);
  assert.deepEqual(second.outputs[0]?.output?.data, first.outputs[0]?.output?.data);
});

test("an expert the shard does not own is NOT_FOUND, naming the layer and the expert", async () => {
  const error = await failure(client.runExperts({ layer: 1, inputs: [{ expertId: 3, hiddenStates: hidden(1, D, 1) }] }));
  assert.equal(error.code, status.NOT_FOUND);
  assert.equal(error.reason, "EXPERT_NOT_OWNED");
  assert.match(error.message, /expert 3 of layer 1 is not owned by shard 0/);
});

test("malformed requests are INVALID_ARGUMENT naming the field, the limit and the value", async () => {
  const good = (expertId: number, rows = 1) => ({ expertId, hiddenStates: hidden(rows, D, expertId + 1) });
  const cases: { name: string; request: Parameters<typeof client.runExperts>[0]; field: string; says: RegExp[] }[] = [
    { name: "layer out of range", request: { layer: 4, inputs: [good(0)] }, field: "layer", says: [/below 4/, /got 4/] },
    {
      name: "expert id out of range",
      request: { layer: 0, inputs: [good(0), good(16)] },
      field: "inputs[1].expert_id",
      says: [/below 16/, /got 16/],
    },
    {
      name: "duplicate expert",
      request: { layer: 0, inputs: [good(2), good(4), good(2)] },
      field: "inputs[2].expert_id",
      says: [/duplicate expert id 2/, /inputs\[0\]/],
    },
    {
      name: "wrong dtype",
      request: { layer: 0, inputs: [{ expertId: 0, hiddenStates: { ...hidden(1, D, 1), dtype: Dtype.DTYPE_FLOAT16 } }] },
      field: "inputs[0].hidden_states.dtype",
      says: [/DTYPE_FLOAT32/, /DTYPE_FLOAT16/],
    },
    {
      name: "wrong shape",
      request: { layer: 0, inputs: [{ expertId: 0, hiddenStates: { ...hidden(2, D / 2, 1) } }] },
      field: "inputs[0].hidden_states.shape",
      says: [new RegExp(`\\[\\*,${D}\\]`), new RegExp(`\\[2,${D / 2}\\]`)],
    },
    {
      name: "byte length not matching the shape",
      request: { layer: 0, inputs: [{ expertId: 0, hiddenStates: { ...hidden(2, D, 1), data: Buffer.alloc(2 * D * 4 - 4) } }] },
      field: "inputs[0].hidden_states.data",
      says: [new RegExp(`${2 * D * 4}`), new RegExp(`${2 * D * 4 - 4}`)],
    },
    {
      name: "no tokens",
      request: { layer: 0, inputs: [{ expertId: 0, hiddenStates: { dtype: Dtype.DTYPE_FLOAT32, shape: [0, D], data: Buffer.alloc(0) } }] },
      field: "inputs[0].hidden_states.shape",
      says: [/at least 1/, /got 0/],
    },
    {
      name: "too many tokens",
      request: { layer: 0, inputs: [good(0, 300), good(2, 213)] },
      field: "inputs[1].hidden_states.shape",
      says: [/at most 512/, /got 513/],
    },
    {
      name: "missing tensor",
      request: { layer: 0, inputs: [{ expertId: 0, hiddenStates: undefined }] },
      field: "inputs[0].hidden_states",
      says: [/missing/],
    },
  ];
  for (const { name, request, field, says } of cases) {
    const error = await failure(client.runExperts(request));
    assert.equal(error.code, status.INVALID_ARGUMENT, name);
    assert.equal((error as { field?: string }).field, field, name);
    for (const pattern of says) assert.match(error.message, pattern, name);
  }
});
