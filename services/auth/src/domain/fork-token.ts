import type { AuthDeps } from "./deps";
import type { TokenPair } from "./model";
import { openSession, presentedSession, recheckApiKey } from "./sessions";
import { checkLength } from "./validate";

/**
 * Opens a new session with the scope and restrictions (IP, access lifetime)
 * of the session a refresh token belongs to; that session is left as it is.
 * An empty name opens an unnamed session.
 */
export async function forkToken(
  deps: AuthDeps,
  refreshToken: string,
  sessionName: string,
  clientIp: string,
): Promise<TokenPair> {
  checkLength("refreshToken", refreshToken, 0, 1024);
  checkLength("sessionName", sessionName, 0, 128);
  const { session } = await presentedSession(deps, refreshToken, clientIp);
  await recheckApiKey(deps, session);
  return openSession(deps, {
    apiKeyId: session.apiKeyId,
    name: sessionName === "" ? undefined : sessionName,
    scope: session.scope,
    ipAddr: session.ipAddr,
    accessLifetime: session.accessLifetime,
  });
}
