import { fileDescriptorProtosBase64 } from "./gen/descriptor-set";

/**
 * Each .proto file's encoded google.protobuf.FileDescriptorProto (with its
 * comments), and those of its imports, as `buf build` made them: what gRPC
 * server reflection serves.
 */
export function fileDescriptorProtos(): Buffer[] {
  return fileDescriptorProtosBase64.map((b) => Buffer.from(b, "base64"));
}
