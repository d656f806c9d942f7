// Bytes that do not decode as the request message get INVALID_ARGUMENT naming the message type, on
// every method (unary, server streaming, health), never INTERNAL or UNKNOWN.
import { ExpertShardServiceService } from "@expertmesh/proto";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createHash } from "node:crypto";
import { silentLogger } from "./logger.js";
import { requestTypeName } from "./request-decoding.js";
import { createServer, type Server } from "./server.js";
import { testShardService } from "./testing.js";

let server: Server;
let client: Client;
before(async () => {
  server = await createServer({ name: "decoding-test", signals: [], logger: silentLogger, services: [testShardService()] });
  client = new Client(server.address, credentials.createInsecure());
});
after(() => {
  client.close();
  server.forceShutdown();
});

const identity = (b: Buffer) => b;

/** The status of one call of `path` whose body is `body` (unary or server streaming). */
function rawCall(path: string, body: Buffer, stream: boolean): Promise<{ code: status; details: string }> {
  return new Promise((resolve) => {
    const done = (e: ServiceError | null) => resolve({ code: e?.code ?? status.OK, details: e?.details ?? "" });
    if (!stream) {
      client.makeUnaryRequest(path, identity, identity, body, new Metadata(), { deadline: Date.now() + 5_000 }, (e) => done(e));
      return;
    }
    const call = client.makeServerStreamRequest(path, identity, identity, body, new Metadata(), { deadline: Date.now() + 5_000 });
    call.on("data", () => undefined);
    call.on("error", (e: ServiceError) => done(e));
    call.on("end", () => done(null));
  });
}

test("the request message type is read from the ts-proto deserializer", () => {
  assert.equal(requestTypeName(ExpertShardServiceService.runExperts), "expertmesh.v1.RunExpertsRequest");
});

test("undecodable bytes get INVALID_ARGUMENT naming the message type", async () => {
  // Field 1 (layer) as a length-delimited value whose length runs past the end.
  const r = await rawCall("/expertmesh.v1.ExpertShardService/RunExperts", Buffer.from([0x0a, 0x7f, 0x01]), false);
  assert.equal(r.code, status.INVALID_ARGUMENT);
  assert.match(r.details, /not a valid expertmesh\.v1\.RunExpertsRequest/);
});

test("health Check and Watch answer undecodable bytes with INVALID_ARGUMENT too", async () => {
  for (const [path, stream] of [
    ["/grpc.health.v1.Health/Check", false],
    ["/grpc.health.v1.Health/Watch", true],
  ] as const) {
    const r = await rawCall(path, Buffer.from([0x0a, 0x7f]), stream);
    assert.equal(r.code, status.INVALID_ARGUMENT, path);
    assert.match(r.details, /grpc\.health\.v1\.HealthCheckRequest/);
  }
});

test("500 random bodies to every method: no INTERNAL, no UNKNOWN", async () => {
  const methods = Object.values(ExpertShardServiceService).map((m) => [m.path, m.responseStream] as const);
  const seen = new Map<number, number>();
  const bad: string[] = [];
  // 16 calls in flight at a time (one after another they took ~30 s on a loaded machine).
  let next = 0;
  const caller = async () => {
    for (let i = next++; i < 500; i = next++) {
      // Deterministic bytes: sha-512 of the index, cut to 1..64 bytes.
      const digest = createHash("sha512").update(String(i)).digest();
      const body = digest.subarray(0, 1 + (digest[0]! % 64));
      const [path, stream] = methods[i % methods.length]!;
      const r = await rawCall(path, body, stream);
      seen.set(r.code, (seen.get(r.code) ?? 0) + 1);
      if (r.code === status.INTERNAL || r.code === status.UNKNOWN)
        bad.push(`${path} answered ${status[r.code]} (${r.details}) to ${body.toString("hex")}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, caller));
  assert.deepEqual(bad, []);
  assert.equal(
    [...seen.values()].reduce((a, b) => a + b, 0),
    500,
  );
  assert.ok((seen.get(status.INVALID_ARGUMENT) ?? 0) > 0);
});
