// gRPC server reflection (grpc.reflection.v1 and v1alpha) for the public service and health, so that
// grpcurl, Postman and gRPC UIs list and call InferenceService without the .proto files. Built from
// the checked-in FileDescriptorSet of proto/; the internal services are not listed.
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { readDescriptorSet } from "@expertmesh/proto";
import type { Server } from "@grpc/grpc-js";

export const REFLECTED_SERVICES = ["expertmesh.v1.InferenceService", "grpc.health.v1.Health"];

export function addReflection(server: Pick<Server, "addService">): void {
  const definition = loadFileDescriptorSetFromBuffer(readDescriptorSet(), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  new ReflectionService(definition as ConstructorParameters<typeof ReflectionService>[0], { services: REFLECTED_SERVICES }).addToServer(
    server,
  );
}
