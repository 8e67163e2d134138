// The `@pkiserver/proto/descriptor-set` entry: the descriptors of every .proto
// file here (with their comments) and of their imports, for gRPC server
// reflection. A separate entry, so only the processes that serve reflection
// load it.
import { fileDescriptorProtosBase64 } from "./gen/descriptor-set";

/** Each file's encoded google.protobuf.FileDescriptorProto, as `buf build` made it. */
export function fileDescriptorProtos(): Buffer[] {
  return fileDescriptorProtosBase64.map((b) => Buffer.from(b, "base64"));
}
