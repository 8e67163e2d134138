import { AppError } from "@pkiserver/kit/core";
import { RevokeReason, type TokenPair } from "./entities";
import type { AuthDeps } from "./ports";
import { newRefreshToken } from "./refresh-token";
import { issuePair, presentedSession, recheckApiKey, revokeFamily } from "./sessions";
import { checkRefreshToken } from "./validation";

/**
 * The refresh_token grant: rotates the session. The new pair replaces the
 * old; the old refresh token is spent and the old access tokens die with the
 * generation bump. Of concurrent refreshes with one token exactly one wins;
 * the others count as reuse, which revokes the session's whole family.
 */
export async function refreshSession(
  deps: AuthDeps,
  refreshToken: string,
  clientIp: string,
  /** The authenticated client, when there is one: the token must be its own. */
  clientId?: string,
): Promise<TokenPair> {
  checkRefreshToken(refreshToken);
  const { session, hash } = await presentedSession(deps, refreshToken, clientIp);
  if (clientId !== undefined && session.apiKeyId !== clientId) {
    throw new AppError("auth.token_invalid", { internal: "refresh token of another API key" });
  }
  await recheckApiKey(deps, session);
  const now = deps.clock.now();
  const next = newRefreshToken(session.id);
  const result = await deps.sessions.rotate(
    session.id,
    hash,
    { refreshHash: next.hash, expiresAt: now + deps.settings.refreshTokenLifetimeMs },
    now,
  );
  if (result.kind === "reused") {
    await revokeFamily(deps, session.familyId, RevokeReason.reuse);
    throw new AppError("auth.token_expired");
  }
  if (result.kind === "failed") throw new AppError("auth.token_expired");
  await deps.events.sessionRotated(result.session, now);
  return issuePair(deps, result.session, next.token, now);
}
