import {
  AppError,
  grantSigningPayload,
  invalidParams,
  normaliseIp,
  normaliseScopes,
  parseScopes,
  scopesWithin,
} from "@pkiserver/kit/core";
import { RevokeReason, type TokenPair, type VerifiedApiKey } from "./entities";
import type { AuthDeps } from "./ports";
import { openSession, revokeIfKeyChanged } from "./sessions";
import { checkClientCredentials, checkClientSignature, checkScopeList } from "./validation";

export type ClientGrant = (
  | { type: "client_credentials"; clientId: string; clientSecret: string; scope: string[] }
  | {
      type: "client_signature";
      clientId: string;
      signature: string;
      timestamp: number;
      nonce: string;
      data?: string | undefined;
      scope: string[];
    }
) & {
  /** The client's address, for apikey's audit record of a refused credential. */
  clientIp?: string | undefined;
};

/** Parses the requested scope list and its modifiers (before any credential is checked). */
function parseRequest(scope: readonly string[], refreshLifetimeMs: number) {
  checkScopeList(scope);
  const req = parseScopes(scope, "scope", true);
  if (req.expiresIn !== undefined && req.expiresIn > refreshLifetimeMs) {
    const i = scope.findIndex((s) => s.startsWith("expiresIn:"));
    throw invalidParams(`scope -> ${i} -> expiresIn exceeds the refresh token lifetime`);
  }
  return {
    scopes: req.scopes,
    sessionName: req.sessionName,
    expiresIn: req.expiresIn,
    ipAddr: req.ipAddr === undefined ? undefined : normaliseIp(req.ipAddr),
  };
}

/**
 * The client_credentials and client_signature grants: verify the key's
 * credential with apikey, grant the requested scope (the key's whole
 * maxScope when none is asked for) and open a session.
 */
export async function issueTokenForClient(deps: AuthDeps, grant: ClientGrant): Promise<TokenPair> {
  if (grant.type === "client_credentials") checkClientCredentials(grant);
  else checkClientSignature(grant);
  // Parsed before the credential is checked, so a malformed request spends no nonce.
  const req = parseRequest(grant.scope, deps.settings.refreshTokenLifetimeMs);
  const attempt = { method: grant.type, clientIp: grant.clientIp };
  const key: VerifiedApiKey =
    grant.type === "client_credentials"
      ? await deps.apikeys.verifySecret(grant.clientId, grant.clientSecret, attempt)
      : await deps.apikeys.verifySignature({
          apiKeyId: grant.clientId,
          timestamp: grant.timestamp,
          nonce: grant.nonce,
          payload: grantSigningPayload(grant.timestamp, grant.nonce, grant.data),
          signature: grant.signature,
          attempt,
        });
  if (!key.enabled) throw new AppError("auth.invalid_credentials");
  const scope = req.scopes.length === 0 ? normaliseScopes(key.maxScope) : req.scopes;
  if (!scopesWithin(scope, key.maxScope)) throw new AppError("auth.insufficient_scope");
  // A session opened with a credential a rotation replaced ends when that credential stops working.
  const credential = {
    credentialGeneration: key.matchedGeneration,
    ...(key.matchedGeneration < (key.credentialGeneration ?? 0)
      ? { credentialExpiresAt: key.previousCredentialExpiresAt ?? deps.clock.now() }
      : {}),
  };
  const pair = await openSession(deps, {
    apiKeyId: key.apiKeyId,
    name: req.sessionName,
    scope,
    ipAddr: req.ipAddr,
    accessLifetime: req.expiresIn ?? deps.settings.accessTokenLifetimeMs,
    ...credential,
  });
  // The key may have changed since its credential was checked: answer as if the change had come first.
  const refused = await revokeIfKeyChanged(deps, pair, credential);
  if (refused === RevokeReason.apiKeyDeleted) throw new AppError("apikey.not_found");
  if (refused === RevokeReason.apiKeyDisabled || refused === RevokeReason.keyRotated) {
    throw new AppError("auth.invalid_credentials");
  }
  if (refused !== undefined) throw new AppError("auth.insufficient_scope");
  return pair;
}
