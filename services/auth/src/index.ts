export {
  type AccessTokenClaims,
  type AccessTokenVerifier,
  createAccessTokenVerifier,
  MAX_TOKEN_LENGTH,
  MAX_TOKEN_LIFETIME_MS,
  type PublicSigningKey,
  TOKEN_ISSUER,
  type VerifierKey,
  type VerifierOptions,
} from "@pkiserver/contract";
export { authStreamMaxAgeMs, buildApp } from "./app";
export { type AuthConfig, loadConfig } from "./config";
export type { Session } from "./domain/entities";
export type { SessionStore, SigningKeyStore, StoredSigningKey } from "./domain/ports";
export { MemorySessionStore } from "./storage/memory-sessions";
export { MemorySigningKeyStore } from "./storage/memory-signing-keys";
export { MongoSessionStore } from "./storage/mongo-sessions";
export { MongoSigningKeyStore } from "./storage/mongo-signing-keys";
