import { AppError } from "@pkiserver/kit/core";
import { isLive, RevokeReason } from "./entities";
import type { AuthDeps } from "./ports";
import { isSessionId } from "./refresh-token";
import { revokeSession } from "./sessions";

/** Revokes a live session; `74` when there is none with that id (or it already ended). */
export async function revokeSessionById(deps: AuthDeps, sessionId: string): Promise<void> {
  if (!isSessionId(sessionId)) throw new AppError("auth.session_not_found");
  const session = await deps.sessions.get(sessionId);
  if (!session || !isLive(session, deps.clock.now())) throw new AppError("auth.session_not_found");
  const revoked = await revokeSession(deps, sessionId, RevokeReason.requested);
  if (!revoked) throw new AppError("auth.session_not_found");
}
