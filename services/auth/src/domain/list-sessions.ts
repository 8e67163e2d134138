import type { Session } from "./entities";
import type { AuthDeps } from "./ports";
import { checkApiKeyId } from "./validation";

/** The live sessions of a key, newest first. */
export async function listSessions(deps: AuthDeps, apiKeyId: string): Promise<Session[]> {
  checkApiKeyId(apiKeyId);
  return deps.sessions.listLive(apiKeyId, deps.clock.now());
}
