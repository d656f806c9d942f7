// The hand-written DispatchExperts codec against the generated one: the same request bytes for varied
// messages (ids past 2^32, empty and large tensors, cancels, a non-ASCII traceparent), and the same
// decoded responses (outputs, an error status, unknown fields skipped), with tensor data as views.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  decodeDispatchResponse,
  DispatchExpertsRequest,
  DispatchExpertsResponse,
  Dtype,
  encodeDispatchRequest,
  type ExpertInput,
  type Tensor,
} from "./index.js";

function tensor(rows: number, D: number, seed: number): Tensor {
  const values = Float32Array.from({ length: rows * D }, (_, i) => Math.sin(seed * 31 + i));
  return { dtype: Dtype.DTYPE_FLOAT32, shape: [rows, D], data: Buffer.from(values.buffer) };
}

const REQUESTS: DispatchExpertsRequest[] = [
  { callId: 1, stepId: 0, layer: 0, inputs: [], timeoutMs: 1, cancel: false, traceparent: "" },
  { callId: 7, stepId: 0, layer: 0, inputs: [], timeoutMs: 0, cancel: true, traceparent: "" },
  {
    callId: 2 ** 40 + 3,
    stepId: 2 ** 33,
    layer: 3,
    inputs: [0, 5, 200].map((e, i): ExpertInput => ({ expertId: e, hiddenStates: tensor(i + 1, 128, e) })),
    timeoutMs: 120_000,
    cancel: false,
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  },
  {
    callId: 300,
    stepId: 12,
    layer: 1,
    inputs: [
      { expertId: 4, hiddenStates: tensor(600, 64, 1) }, // a length prefix of 3 bytes
      { expertId: 9, hiddenStates: undefined },
      { expertId: 0, hiddenStates: { dtype: 0, shape: [], data: Buffer.alloc(0) } },
    ],
    timeoutMs: 5,
    cancel: false,
    traceparent: "tracé ✓",
  },
];

test("requests: the same bytes as the generated encoder", () => {
  for (const m of REQUESTS) assert.deepEqual(encodeDispatchRequest(m), Buffer.from(DispatchExpertsRequest.encode(m).finish()));
});

test("responses: the same values as the generated decoder, tensor data as views", () => {
  const responses: DispatchExpertsResponse[] = [
    { callId: 1, layer: 0, outputs: [], error: undefined },
    {
      callId: 2 ** 35,
      layer: 2,
      outputs: [
        { expertId: 0, output: tensor(3, 128, 4), wasResident: true },
        { expertId: 11, output: tensor(600, 64, 5), wasResident: false },
        { expertId: 12, output: undefined, wasResident: true },
      ],
      error: undefined,
    },
    { callId: 9, layer: 1, outputs: [], error: { code: 4, message: "deadline exceeded ✓", details: [] } },
  ];
  for (const m of responses) {
    const bytes = Buffer.from(DispatchExpertsResponse.encode(m).finish());
    const got = decodeDispatchResponse(bytes);
    assert.deepEqual(got, DispatchExpertsResponse.decode(bytes));
    for (const o of got.outputs) if (o.output?.data.length) assert.equal(o.output.data.buffer, bytes.buffer, "a copy, not a view");
  }
  // Unknown fields (a newer shard) are skipped; an unpacked shape is read as the generated decoder does.
  const w = new BinaryWriter();
  w.uint32(8).uint64(5);
  w.uint32(26).fork();
  w.uint32(8).uint32(3);
  w.uint32(18)
    .fork()
    .uint32(8)
    .int32(Dtype.DTYPE_FLOAT32)
    .uint32(16)
    .uint32(1)
    .uint32(16)
    .uint32(2)
    .uint32(26)
    .bytes(new Uint8Array(8))
    .join();
  w.uint32(802).string("future field").uint32(809).fixed64(1n).uint32(813).fixed32(1);
  w.join();
  w.uint32(800).uint32(42);
  const bytes = Buffer.from(w.finish());
  assert.deepEqual(decodeDispatchResponse(bytes), DispatchExpertsResponse.decode(bytes));
});

test("a truncated response throws instead of reading past its end", () => {
  const bytes = Buffer.from(
    DispatchExpertsResponse.encode({
      callId: 3,
      layer: 1,
      outputs: [{ expertId: 1, output: tensor(2, 8, 1), wasResident: true }],
      error: undefined,
    }).finish(),
  );
  for (const n of [1, 5, bytes.length - 1]) assert.throws(() => decodeDispatchResponse(bytes.subarray(0, n)), /DispatchExpertsResponse/);
});
