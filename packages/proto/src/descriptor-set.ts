// The FileDescriptorSet of proto/ (every file and its imports), made by `buf build` in `npm run proto`
// and checked in beside the generated code: what gRPC server reflection serves, with no .proto file
// needed at run time.
import { readFileSync } from "node:fs";

/** The bytes of packages/proto/descriptor-set.binpb (a google.protobuf.FileDescriptorSet). */
export function readDescriptorSet(): Buffer {
  return readFileSync(new URL("../descriptor-set.binpb", import.meta.url));
}
