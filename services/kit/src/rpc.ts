// The `@pkiserver/kit/grpc` entry: gRPC servers, clients (over the network or in process) and call scoping.
export * from "./call";
export * from "./call-auth";
export * from "./grpc";
export * from "./grpc-standard";
