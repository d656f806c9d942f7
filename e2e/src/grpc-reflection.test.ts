// gRPC server reflection on the router, as grpcurl uses it: list the services (the public one and
// health, not the internal ones), and fetch the file that defines InferenceService with its methods.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { loadPackageDefinition, type ChannelCredentials, type Client, type ClientDuplexStream } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { startMesh, type Mesh } from "@expertmesh/cli/launcher";

const reflectionDir = join(dirname(createRequire(import.meta.url).resolve("@grpc/reflection")), "../proto");
let mesh: Mesh;

before(async () => {
  mesh = await startMesh({ shards: 1, predictor: false, nats: false });
});
after(async () => {
  await mesh.stop();
});

type Reflection = Client & { ServerReflectionInfo(): ClientDuplexStream<object, Record<string, unknown>> };

function ask(client: Reflection, request: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    call.once("data", (r) => {
      resolve(r);
      call.end();
    });
    call.once("error", reject);
    call.write(request);
  });
}

test("reflection lists the public service and health, and serves InferenceService's file", async () => {
  const def = loadSync("grpc/reflection/v1/reflection.proto", {
    includeDirs: [reflectionDir],
    keepCase: true,
    longs: Number,
    defaults: true,
    oneofs: true,
  });
  const Ctor = (
    loadPackageDefinition(def) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (a: string, c: ChannelCredentials) => Reflection } } };
    }
  ).grpc.reflection.v1.ServerReflection;
  const client = new Ctor(mesh.router.address, mesh.credentials());
  try {
    const listed = (await ask(client, { list_services: "" })) as { list_services_response: { service: { name: string }[] } };
    assert.deepEqual(listed.list_services_response.service.map((s) => s.name).sort(), [
      "expertmesh.v1.InferenceService",
      "grpc.health.v1.Health",
    ]);
    const file = (await ask(client, { file_containing_symbol: "expertmesh.v1.InferenceService" })) as {
      file_descriptor_response: { file_descriptor_proto: Buffer[] };
    };
    const protos = file.file_descriptor_response.file_descriptor_proto.map((b) => Buffer.from(b).toString("latin1")).join("");
    for (const method of ["Generate", "Complete", "Tokenize", "ModelInfo"]) assert.ok(protos.includes(method), method);
  } finally {
    client.close();
  }
});
