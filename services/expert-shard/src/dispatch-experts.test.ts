// DispatchExperts over a real stream: each message is one call, answered by id with the same numbers as
// RunExperts; a failed call answers its status in its message and the stream goes on; a call's own
// deadline and a cancel message reach the shard's work (a shard whose simulated link makes every load
// take 2 s, so that the call is still waiting when the deadline or the cancel arrives).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { ExpertShardServiceClient, type DispatchExpertsRequest, type DispatchExpertsResponse } from "@expertmesh/proto";
import { channelOptions, errorFromRpcStatus, openBidi, tensorToFloat32, type BidiStream } from "@expertmesh/runtime";
import { credentials } from "@grpc/grpc-js";
import type { ShardServer } from "./server.js";
import { bundledSizes, hidden, shardClient, startShard } from "./testing.js";

const { D, expertBytes } = bundledSizes();
let fast: ShardServer;
let slow: ShardServer;

before(async () => {
  // Shard 0 of 2 owns the even experts of layer 0.
  fast = await startShard(["--shards", "2", "--shard-id", "0"]);
  slow = await startShard(["--shards", "2", "--shard-id", "0", "--link-gbps", String(expertBytes / 2e9)]);
});

after(async () => {
  await Promise.all([fast.drain(), slow.drain()]);
});

/** A stream whose answers are collected by call id. */
function open(address: string) {
  const client = new ExpertShardServiceClient(address, credentials.createInsecure(), channelOptions());
  const answers = new Map<number, (m: DispatchExpertsResponse) => void>();
  let ended: unknown = "open";
  const stream: BidiStream<DispatchExpertsRequest> = openBidi(client, "dispatchExperts", {
    onMessage: (m) => answers.get(m.callId)?.(m),
    onEnd: (e) => (ended = e),
  });
  const send = (m: Partial<DispatchExpertsRequest> & { callId: number }): Promise<DispatchExpertsResponse> => {
    const answer = new Promise<DispatchExpertsResponse>((resolve) => answers.set(m.callId, resolve));
    stream.write({ stepId: 1, layer: 0, inputs: [], timeoutMs: 10_000, cancel: false, traceparent: "", ...m });
    return answer;
  };
  return {
    send,
    stream,
    ended: () => ended,
    close: () => {
      stream.end();
      client.close();
    },
  };
}

test("each call on the stream answers exactly what RunExperts answers for the same inputs", async () => {
  const s = open(fast.address);
  const unary = shardClient(fast.address);
  try {
    const inputs = [
      { expertId: 2, hiddenStates: hidden(3, D, 1) },
      { expertId: 4, hiddenStates: hidden(1, D, 2) },
    ];
    const [a, b] = await Promise.all([s.send({ callId: 1, inputs }), s.send({ callId: 2, inputs: inputs.slice(1) })]);
    const expected = await unary.runExperts({ layer: 0, inputs });
    assert.equal(a.error, undefined);
    assert.deepEqual(
      a.outputs.map((o) => o.expertId),
      [2, 4],
    );
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(tensorToFloat32(a.outputs[i]!.output, "a"), tensorToFloat32(expected.outputs[i]!.output, "e"));
    }
    assert.deepEqual(tensorToFloat32(b.outputs[0]!.output, "b"), tensorToFloat32(expected.outputs[1]!.output, "e"));
  } finally {
    s.close();
    unary.close();
  }
});

test("a failed call answers its status in its message, and the next call on the same stream succeeds", async () => {
  const s = open(fast.address);
  try {
    const bad = await s.send({ callId: 7, inputs: [{ expertId: 3, hiddenStates: hidden(1, D, 1) }] });
    const error = errorFromRpcStatus(bad.error!);
    assert.equal(error.code, status.NOT_FOUND);
    assert.equal(error.reason, "EXPERT_NOT_OWNED");
    const noDeadline = errorFromRpcStatus(
      (await s.send({ callId: 8, timeoutMs: 0, inputs: [{ expertId: 2, hiddenStates: hidden(1, D, 1) }] })).error!,
    );
    assert.equal(noDeadline.code, status.INVALID_ARGUMENT);
    assert.match(noDeadline.message, /timeout_ms must be at least 1, got 0/);
    const good = await s.send({ callId: 9, inputs: [{ expertId: 2, hiddenStates: hidden(1, D, 1) }] });
    assert.equal(good.error, undefined);
    assert.equal(good.outputs.length, 1);
    assert.equal(s.ended(), "open");
  } finally {
    s.close();
  }
});

test("a call whose deadline passes while its expert loads answers DEADLINE_EXCEEDED; the stream goes on", async () => {
  const s = open(slow.address);
  try {
    const late = await s.send({ callId: 1, timeoutMs: 100, inputs: [{ expertId: 6, hiddenStates: hidden(1, D, 1) }] });
    assert.equal(errorFromRpcStatus(late.error!).code, status.DEADLINE_EXCEEDED);
    const invalid = await s.send({ callId: 2, inputs: [{ expertId: 5, hiddenStates: hidden(1, D, 1) }] });
    assert.equal(errorFromRpcStatus(invalid.error!).code, status.NOT_FOUND, "the stream still answers");
  } finally {
    s.close();
  }
});

test("a cancel message stops that call alone: it answers CANCELLED, a neighbour on the stream still computes", async () => {
  const s = open(slow.address);
  try {
    const cancelled = s.send({ callId: 1, inputs: [{ expertId: 8, hiddenStates: hidden(1, D, 1) }] });
    const neighbour = s.send({ callId: 2, inputs: [{ expertId: 10, hiddenStates: hidden(1, D, 2) }] });
    await new Promise((resolve) => setTimeout(resolve, 50));
    s.stream.write({ callId: 1, stepId: 0, layer: 0, inputs: [], timeoutMs: 0, cancel: true, traceparent: "" });
    assert.equal(errorFromRpcStatus((await cancelled).error!).code, status.CANCELLED);
    const n = await neighbour;
    assert.equal(n.error, undefined);
    assert.equal(n.outputs.length, 1);
  } finally {
    s.close();
  }
});
