import { AppError } from "@pkiserver/kit/core";
import type { AuthDeps } from "./deps";
import type { TokenPair } from "./model";
import { openSession, presentedSession, recheckApiKey, revokeIfKeyChanged } from "./sessions";
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
  const pair = await openSession(deps, {
    apiKeyId: session.apiKeyId,
    name: sessionName === "" ? undefined : sessionName,
    scope: session.scope,
    ipAddr: session.ipAddr,
    accessLifetime: session.accessLifetime,
  });
  if ((await revokeIfKeyChanged(deps, pair)) !== undefined) throw new AppError("auth.token_expired");
  return pair;
}
