import { AppError, invalidParams } from "@pkiserver/kit/core";
import { RevokeReason, type TokenPair } from "./entities";
import type { AuthDeps } from "./ports";
import { openSession, presentedSession, recheckApiKey, revokeIfKeyChanged, revokeSession } from "./sessions";
import { checkRefreshToken, checkSessionName } from "./validation";

/**
 * Opens a new session with the scope and restrictions (IP, access lifetime)
 * of the session a refresh token belongs to; that session is left as it is.
 * The new session joins the source's family, so reuse of any refresh token
 * of the family revokes it too. An empty name opens an unnamed session.
 */
export async function forkToken(
  deps: AuthDeps,
  refreshToken: string,
  sessionName: string,
  clientIp: string,
): Promise<TokenPair> {
  checkRefreshToken(refreshToken);
  checkSessionName(sessionName);
  const { session } = await presentedSession(deps, refreshToken, clientIp);
  // Opening a session under a live session's name closes that session: a fork must never close its source.
  if (sessionName !== "" && sessionName === session.name) {
    throw invalidParams("sessionName -> A fork cannot take its source session's name");
  }
  await recheckApiKey(deps, session);
  const pair = await openSession(deps, {
    apiKeyId: session.apiKeyId,
    familyId: session.familyId,
    name: sessionName === "" ? undefined : sessionName,
    scope: session.scope,
    ipAddr: session.ipAddr,
    accessLifetime: session.accessLifetime,
    // A fork lives no longer than the credential its source was opened with.
    credentialGeneration: session.credentialGeneration,
    credentialExpiresAt: session.credentialExpiresAt,
  });
  // Reuse detected while the fork was being opened may have looked for the
  // family's sessions before this one was stored; the family's mark, written
  // before that look-up, tells.
  if (await deps.sessions.isFamilyRevoked(session.familyId)) {
    await revokeSession(deps, pair.sessionId, RevokeReason.reuse);
    throw new AppError("auth.token_expired");
  }
  const credential = {
    credentialGeneration: session.credentialGeneration,
    credentialExpiresAt: session.credentialExpiresAt,
  };
  if ((await revokeIfKeyChanged(deps, pair, credential)) !== undefined) throw new AppError("auth.token_expired");
  return pair;
}
