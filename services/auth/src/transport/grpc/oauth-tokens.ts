import type { authV1 } from "@pkiserver/proto";
import { inspectToken as inspect, revokeToken as revoke } from "../../domain/oauth-tokens";
import type { AuthDeps } from "../../domain/ports";
import { claimsToProto } from "./codec";

export function inspectToken(deps: AuthDeps) {
  return async (req: authV1.InspectTokenRequest, clientId: string): Promise<authV1.InspectTokenResponse> => {
    const found = await inspect(deps, req.token, clientId);
    if (!found) return { active: false, tokenType: "" };
    return { active: true, tokenType: found.tokenType, claims: claimsToProto(found.claims) };
  };
}

export function revokeToken(deps: AuthDeps) {
  return async (req: authV1.RevokeTokenRequest, clientId: string): Promise<authV1.RevokeTokenResponse> => {
    const done = await revoke(deps, req.token, clientId);
    if (!done) return {};
    return {
      revoked: {
        sessionId: done.session.id,
        apiKeyId: done.session.apiKeyId,
        revokedAt: done.session.revokedAt ?? deps.clock.now(),
        tokensExpireAt: done.tokensExpireAt,
      },
    };
  };
}
