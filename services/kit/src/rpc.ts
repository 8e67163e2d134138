// The `@pkiserver/kit/grpc` entry: gRPC servers, clients (over the network or in process) and call scoping.
export * from "./call";
export * from "./grpc";
export * from "./grpc-standard";
