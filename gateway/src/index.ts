export { BODY_LIMIT, buildGateway, type GatewayOptions } from "./app";
export type { Caller, Credentials } from "./auth/authenticate";
export { type KeyChange, RevocationCache } from "./auth/revocations";
export {
  createJwksTokenVerifier,
  type KeyedTokenVerifier,
  type SigningKeyInput,
  type TokenClaims,
  type TokenVerifier,
} from "./auth/token-verifier";
export { type GatewayConfig, GatewayConfigError, loadConfig } from "./config";
export { MAX_BATCH } from "./rpc/dispatch";
export { lookupMethod, METHOD_NAMES } from "./rpc/methods";
