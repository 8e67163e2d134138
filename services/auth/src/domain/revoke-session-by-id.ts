import { AppError, assertScopesWithin } from "@pkiserver/kit/core";
import { isLive, RevokeReason } from "./entities";
import type { AuthDeps } from "./ports";
import { isSessionId } from "./refresh-token";
import { revokeSession } from "./sessions";

/**
 * Revokes a live session; `74` when there is none with that id (or it already
 * ended). As for managing a key, a caller may end only sessions of a key no
 * more powerful than itself (`73` otherwise): `callerScopes` are the scopes
 * the call was authenticated with (undefined: a trusted component acting for
 * itself).
 */
export async function revokeSessionById(
  deps: AuthDeps,
  sessionId: string,
  callerScopes?: readonly string[],
): Promise<void> {
  if (!isSessionId(sessionId)) throw new AppError("auth.session_not_found");
  const session = await deps.sessions.get(sessionId);
  if (!session || !isLive(session, deps.clock.now())) throw new AppError("auth.session_not_found");
  if (callerScopes !== undefined) {
    const key = await deps.apikeys.getApiKey(session.apiKeyId);
    // A key gone since leaves its sessions to the key events; asking about it reveals nothing.
    if (!key) throw new AppError("auth.session_not_found");
    assertScopesWithin(key.maxScope, callerScopes);
  }
  const revoked = await revokeSession(deps, sessionId, RevokeReason.requested);
  if (!revoked) throw new AppError("auth.session_not_found");
}
