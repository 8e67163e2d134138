/*
 * The kit's core: what domain code may use. Pure functions and types with no
 * driver behind them (no gRPC, MongoDB, NATS, telemetry or logging library):
 * the error catalogue, scopes, signatures and sealing over node:crypto.
 * The drivers have entries of their own (`@pkiserver/kit/grpc`, `/nats`,
 * `/mongo`, `/config`, `/telemetry`); `@pkiserver/kit` gathers everything for
 * composition roots.
 */
export * from "./base64";
export * from "./errors";
export * from "./ip";
export * from "./random";
export * from "./scope";
export * from "./secret-box";
export * from "./signature";
