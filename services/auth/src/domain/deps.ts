import type { AccessTokenVerifier } from "@pkiserver/contract";
import type { AuthSettings } from "./model";
import type { ApiKeyVerifier, AuthEvents, Clock, SessionStore } from "./ports";
import type { SigningKeyManager } from "./signing-keys";

/** Everything the use cases work with; built once by the composition root. */
export interface AuthDeps {
  sessions: SessionStore;
  keys: SigningKeyManager;
  /** Verifies access tokens against this service's own keys (for introspection). */
  verifier: AccessTokenVerifier;
  apikeys: ApiKeyVerifier;
  events: AuthEvents;
  clock: Clock;
  settings: AuthSettings;
}
