// ShardStream against a real gRPC server on loopback whose DispatchExperts doubles each input (or, for
// expert 99, never answers): calls resolve by id, failures arrive as their typed error without ending
// the stream, a cancel reaches the server, in-flight calls are bounded, and a broken stream fails its
// calls with UnavailableError and reconnects on the next call. The client is the shard pool's (its messages
// through the hand-written codec, dispatch-codec.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { credentials } from "@grpc/grpc-js";
import { ExpertShardServiceDispatchClient, ExpertShardServiceService } from "@expertmesh/proto";
import {
  channelOptions,
  createServer,
  float32Tensor,
  NotFoundError,
  service,
  silentLogger,
  tensorToFloat32,
  toRpcStatus,
  UnavailableError,
  type Server,
} from "@expertmesh/runtime";
import { ShardStream } from "./shard-stream.js";

const D = 4;

interface Seen {
  calls: number[];
  cancels: number[];
}

async function startServer(port = 0): Promise<{ server: Server; seen: Seen }> {
  const seen: Seen = { calls: [], cancels: [] };
  const unused = () => {
    throw new Error("not used by this test");
  };
  const server = await createServer({
    name: "test-shard",
    port,
    signals: [],
    logger: silentLogger,
    services: [
      service(ExpertShardServiceService, {
        runExperts: unused,
        prefetch: unused,
        cacheStats: unused,
        dispatchExperts: async (call) => {
          for await (const m of call.requests) {
            if (m.cancel) {
              seen.cancels.push(m.callId);
              continue;
            }
            seen.calls.push(m.callId);
            if (m.inputs[0]?.expertId === 99) continue; // never answered
            if (m.inputs[0]?.expertId === 7) {
              void call.send({ callId: m.callId, layer: m.layer, outputs: [], error: toRpcStatus(new NotFoundError("expert", "0/7")) });
              continue;
            }
            const outputs = m.inputs.map((i) => ({
              expertId: i.expertId,
              wasResident: true,
              output: float32Tensor(
                tensorToFloat32(i.hiddenStates, "x").map((v) => 2 * v),
                [1, D],
              ),
            }));
            void call.send({ callId: m.callId, layer: m.layer, outputs, error: undefined });
          }
        },
      }),
    ],
  });
  return { server, seen };
}

function call(stream: ShardStream, expertId: number, signal?: AbortSignal) {
  const x = Float32Array.from({ length: D }, (_, i) => i + expertId);
  return stream.call({
    layer: 0,
    stepId: 1,
    inputs: [{ expertId, hiddenStates: float32Tensor(x, [1, D]) }],
    deadline: Date.now() + 5_000,
    signal,
  });
}

const client = (server: Server) => new ExpertShardServiceDispatchClient(server.address, credentials.createInsecure(), channelOptions());

test("calls on one stream resolve with their own outputs; a failed call rejects with its typed error and the stream stays open", async () => {
  const { server } = await startServer();
  const c = client(server);
  const stream = new ShardStream(c, "test", 8);
  try {
    const [a, b] = await Promise.all([call(stream, 1), call(stream, 2)]);
    assert.deepEqual([...tensorToFloat32(a[0]!.output, "a")], [2, 4, 6, 8]);
    assert.deepEqual([...tensorToFloat32(b[0]!.output, "b")], [4, 6, 8, 10]);
    await assert.rejects(call(stream, 7), (e) => e instanceof NotFoundError);
    assert.equal((await call(stream, 3)).length, 1);
    assert.equal(stream.counters.opened, 1);
  } finally {
    stream.close();
    c.close();
    server.forceShutdown();
  }
});

test("aborting a call rejects it with the signal's reason and sends the server a cancel for that call", async () => {
  const { server, seen } = await startServer();
  const c = client(server);
  const stream = new ShardStream(c, "test", 8);
  try {
    const abort = new AbortController();
    const pending = call(stream, 99, abort.signal);
    while (seen.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    abort.abort(new Error("client went away"));
    await assert.rejects(pending, /client went away/);
    while (seen.cancels.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(seen.cancels, seen.calls);
  } finally {
    stream.close();
    c.close();
    server.forceShutdown();
  }
});

test("with one call in flight allowed, the second is not sent before the first is answered", async () => {
  const { server, seen } = await startServer();
  const c = client(server);
  const stream = new ShardStream(c, "test", 1);
  try {
    const abort = new AbortController();
    const first = call(stream, 99, abort.signal).catch(() => "aborted");
    const second = call(stream, 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.calls.length, 1, "only the first call was written");
    abort.abort(new Error("stop"));
    assert.equal(await first, "aborted");
    assert.equal((await second).length, 1);
    assert.equal(seen.calls.length, 2);
  } finally {
    stream.close();
    c.close();
    server.forceShutdown();
  }
});

test("a stream broken by the server's death fails its calls with UnavailableError; the next call reconnects", async () => {
  const first = await startServer();
  const port = first.server.port;
  const c = client(first.server);
  const stream = new ShardStream(c, "test", 8);
  let second: Server | undefined;
  try {
    const pending = call(stream, 99);
    while (first.seen.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    first.server.forceShutdown();
    await assert.rejects(pending, (e) => e instanceof UnavailableError);
    second = (await startServer(port)).server;
    let out: unknown;
    for (let i = 0; i < 50 && out === undefined; i++) {
      out = await call(stream, 1).catch((e) =>
        e instanceof UnavailableError ? new Promise((r) => setTimeout(() => r(undefined), 100)) : Promise.reject(e),
      );
    }
    assert.ok(Array.isArray(out), "a call succeeded on a new stream");
    assert.ok(stream.counters.opened >= 2);
  } finally {
    stream.close();
    c.close();
    second?.forceShutdown();
  }
});
