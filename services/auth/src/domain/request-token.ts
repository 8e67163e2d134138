import { SESSIONLESS_CREATED_AT } from "@pkiserver/contract";
import { normaliseScopes } from "@pkiserver/kit/core";
import type { AuthDeps } from "./ports";
import { newSessionId } from "./refresh-token";

/**
 * How long a request token lives: the calls one JSON-RPC request makes (each
 * within the gateway's 10 s deadline), with room for clocks a little apart.
 */
export const REQUEST_TOKEN_LIFETIME_MS = 60_000;

/**
 * An access token of a key's whole scope for the calls of one request, bound
 * to no session (nothing is stored, nothing can refresh it): what a gateway
 * forwards for a Basic or signed request whose credential apikey accepted, to
 * services it reaches without mutual TLS. Each request gets its own, so a key
 * disabled or deleted stops at its next request, as with the credential itself.
 */
export async function issueRequestToken(
  deps: Pick<AuthDeps, "clock" | "keys" | "signer" | "settings">,
  key: { apiKeyId: string; maxScope: readonly string[] },
): Promise<{ accessToken: string; accessTokenExpiresIn: number }> {
  const now = deps.clock.now();
  const accessToken = await deps.signer.sign(
    {
      apiKeyId: key.apiKeyId,
      sessionId: `req_${newSessionId()}`,
      generation: 0,
      scope: normaliseScopes(key.maxScope),
      issuedAt: now,
      expiresAt: now + REQUEST_TOKEN_LIFETIME_MS,
      // Of no session: no cap mark of the key covers it.
      sessionCreatedAt: SESSIONLESS_CREATED_AT,
    },
    await deps.keys.signer(),
    deps.settings.tokenIdentity,
  );
  return { accessToken, accessTokenExpiresIn: REQUEST_TOKEN_LIFETIME_MS };
}
