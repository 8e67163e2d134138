import type { AccessTokenClaims } from "@pkiserver/contract";
import { constantTimeEqual } from "@pkiserver/kit/core";
import { accessTokensExpireAt, isLive, RevokeReason, type Session } from "./entities";
import type { AuthDeps } from "./ports";
import { parseRefreshToken } from "./refresh-token";
import { revokeSession } from "./sessions";

/*
 * OAuth 2.0 introspection (RFC 7662) and revocation (RFC 7009) of either
 * token of a session. A client learns about, and can end, only the sessions of
 * its own API key: RFC 7009 requires the server to check the token was issued
 * to the client, and answering "inactive" for anyone else's token tells a
 * client that found a token nothing about it. Neither operation has other
 * side effects: presenting a refresh token that was rotated away here is not
 * treated as theft, since doing so does not use it.
 */

export type OAuthTokenType = "access_token" | "refresh_token";

export interface InspectedToken {
  tokenType: OAuthTokenType;
  session: Session;
  /** What the token says, or for a refresh token what the session grants now. */
  claims: AccessTokenClaims;
}

async function liveAccessToken(deps: AuthDeps, token: string): Promise<InspectedToken | undefined> {
  let claims: AccessTokenClaims;
  try {
    claims = await deps.verifier.verify(token);
  } catch {
    return undefined;
  }
  const session = await deps.sessions.get(claims.sessionId);
  if (!session || session.apiKeyId !== claims.apiKeyId || session.generation !== claims.generation) return undefined;
  if (!isLive(session, deps.clock.now())) return undefined;
  return { tokenType: "access_token", session, claims };
}

async function liveRefreshToken(deps: AuthDeps, token: string): Promise<InspectedToken | undefined> {
  const parsed = parseRefreshToken(token);
  if (!parsed) return undefined;
  const session = await deps.sessions.get(parsed.sessionId);
  if (!session || !constantTimeEqual(session.refreshHash, parsed.hash)) return undefined;
  if (!isLive(session, deps.clock.now())) return undefined;
  const claims: AccessTokenClaims = {
    apiKeyId: session.apiKeyId,
    sessionId: session.id,
    generation: session.generation,
    scope: session.scope,
    ...(session.ipAddr === undefined ? {} : { ipAddr: session.ipAddr }),
    issuedAt: session.rotatedAt ?? session.createdAt,
    expiresAt: session.expiresAt,
  };
  return { tokenType: "refresh_token", session, claims };
}

/** The live token `clientId` holds, or undefined for anything else (expired, revoked, rotated, foreign, garbage). */
export async function inspectToken(
  deps: AuthDeps,
  token: string,
  clientId: string,
): Promise<InspectedToken | undefined> {
  if (token.length === 0 || clientId.length === 0) return undefined;
  // An access token is a compact JWS (two dots); a refresh token has one dot.
  const found =
    token.split(".").length === 3 ? await liveAccessToken(deps, token) : await liveRefreshToken(deps, token);
  return found?.session.apiKeyId === clientId ? found : undefined;
}

/**
 * Ends the session of a live token `clientId` holds and reports the
 * revocation (the event reaches every gateway); undefined when there was
 * nothing of the client's to revoke.
 */
export async function revokeToken(
  deps: AuthDeps,
  token: string,
  clientId: string,
): Promise<{ session: Session; tokensExpireAt: number } | undefined> {
  const found = await inspectToken(deps, token, clientId);
  if (!found) return undefined;
  const revoked = await revokeSession(deps, found.session.id, RevokeReason.requested);
  if (!revoked) return undefined;
  return { session: revoked, tokensExpireAt: accessTokensExpireAt(revoked) };
}
