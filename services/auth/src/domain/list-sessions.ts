import type { Session } from "./entities";
import type { AuthDeps } from "./ports";
import { checkLength } from "./validation";

/** The live sessions of a key, newest first. */
export async function listSessions(deps: AuthDeps, apiKeyId: string): Promise<Session[]> {
  checkLength("apiKeyId", apiKeyId, 1, 128);
  return deps.sessions.listLive(apiKeyId, deps.clock.now());
}
