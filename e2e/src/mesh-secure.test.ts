// The local mesh with mTLS between every service and TLS + per-service users on NATS (what `up --tls`
// runs): generation is the in-process one, a plaintext client is refused by the router, a shard
// refuses a client that presents no certificate, and heartbeats still flow (the router sees both shards).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Metadata, credentials, type ServiceError } from "@grpc/grpc-js";
import { ExpertMeshClient, UnavailableError } from "@expertmesh/client";
import { startMesh, type Mesh } from "@expertmesh/cli/launcher";
import { ExpertShardServiceClient } from "@expertmesh/proto";
import { channelCredentialsFromFiles, channelOptions } from "@expertmesh/runtime";
import { referenceTokens, releaseReference } from "./reference.js";

const PROMPT = "The Congress of the United States";
let mesh: Mesh;
before(async () => {
  mesh = await startMesh({ shards: 2, predictor: false, secure: true });
});
after(async () => {
  await mesh?.stop();
  await releaseReference();
});

test("a secure mesh generates the in-process tokens", async () => {
  assert.ok(mesh.tls, "the mesh made a CA");
  const client = new ExpertMeshClient(mesh.router.address, { ...mesh.clientOptions, timeoutMs: 60_000 });
  try {
    const r = await client.complete(PROMPT, { maxTokens: 8 });
    assert.deepEqual(r.tokenIds, await referenceTokens(PROMPT, 8));
  } finally {
    client.close();
  }
});

test("the router refuses a plaintext client", async () => {
  const client = new ExpertMeshClient(mesh.router.address, { timeoutMs: 5_000, retry: false });
  try {
    await assert.rejects(client.modelInfo(), UnavailableError);
  } finally {
    client.close();
  }
});

test("a shard refuses a TLS client without a certificate and serves the operator's", async () => {
  const call = (creds: ReturnType<typeof credentials.createInsecure>) => {
    const c = new ExpertShardServiceClient(mesh.shards[0].address, creds, channelOptions());
    return new Promise<unknown>((resolve, reject) =>
      c.cacheStats({}, new Metadata(), { deadline: Date.now() + 5_000 }, (e: ServiceError | null, r) => (e ? reject(e) : resolve(r))),
    ).finally(() => c.close());
  };
  await assert.rejects(call(channelCredentialsFromFiles({ caFile: mesh.tls!.caFile })), /UNAVAILABLE/);
  await assert.rejects(call(credentials.createInsecure()), /UNAVAILABLE/);
  assert.ok(await call(mesh.credentials()));
});
