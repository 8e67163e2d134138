export * from "./audit";
export * as fields from "./fields";
export * from "./methods";
export * from "./openrpc";
export { isValidPubKey, randomPubKey } from "./pubkey";
export * from "./revocations";
export * from "./schema";
export * from "./token";
export * from "./token-verifier";
