// The wire contracts, generated from the .proto files beside this package:
// the project's services and events, and the standard protos the services
// also speak (grpc.health.v1, and google.rpc's Status and ErrorInfo).

export { fileDescriptorProtos } from "./descriptor-set";
export * as rpcErrorDetails from "./gen/google/rpc/error_details";
export * as rpcStatus from "./gen/google/rpc/status";
export * as healthV1 from "./gen/grpc/health/v1/health";
export * as apikeyV1 from "./gen/pkiserver/apikey/v1/apikey";
export * as auditV1 from "./gen/pkiserver/audit/v1/audit";
export * as authV1 from "./gen/pkiserver/auth/v1/auth";
export * as eventsV1 from "./gen/pkiserver/events/v1/events";
export * as pkiV1 from "./gen/pkiserver/pki/v1/pki";
