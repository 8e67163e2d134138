import { type AuthFailure, authFailureReason, invalidParams } from "@pkiserver/kit";
import type { authV1 } from "@pkiserver/proto";
import type { AuthDeps } from "../../domain/deps";
import { issueTokenForClient } from "../../domain/issue-token";
import { refreshSession } from "../../domain/refresh-session";
import { refusedByApikey } from "./apikey-client";
import { tokenPairToProto } from "./codec";

export function issueToken(deps: AuthDeps) {
  return async (req: authV1.IssueTokenRequest): Promise<authV1.IssueTokenResponse> => {
    const grant = req.grant;
    if (!grant) throw invalidParams("Key 'grantType' is required");
    switch (grant.$case) {
      case "clientCredentials":
        return {
          token: tokenPairToProto(
            await issueTokenForClient(deps, {
              type: "client_credentials",
              clientId: grant.value.clientId,
              clientSecret: grant.value.clientSecret,
              scope: grant.value.scope,
              clientIp: req.clientIp,
            }),
          ),
        };
      case "clientSignature":
        return {
          token: tokenPairToProto(
            await issueTokenForClient(deps, {
              type: "client_signature",
              clientId: grant.value.clientId,
              signature: grant.value.signature,
              timestamp: grant.value.timestamp,
              nonce: grant.value.nonce,
              data: grant.value.data,
              scope: grant.value.scope,
              clientIp: req.clientIp,
            }),
          ),
        };
      case "refreshToken":
        return {
          token: tokenPairToProto(
            await refreshSession(deps, grant.value.refreshToken, req.clientIp, grant.value.clientId),
          ),
        };
    }
  };
}

/** The audit record of a grant refused for its credential; undefined for any other failure. */
export function grantFailure(req: authV1.IssueTokenRequest, err: unknown, requestId?: string): AuthFailure | undefined {
  const grant = req.grant;
  if (!grant) return undefined;
  const [method, kind, apiKeyId] =
    grant.$case === "clientCredentials"
      ? (["client_credentials", "secret", grant.value.clientId] as const)
      : grant.$case === "clientSignature"
        ? (["client_signature", "signature", grant.value.clientId] as const)
        : (["refresh_token", "token", undefined] as const);
  // apikey reported its verdict on a credential it refused (replayed nonce, disabled key, ...) itself.
  if (refusedByApikey(err)) return undefined;
  const reason = authFailureReason(err, kind);
  if (reason === undefined) return undefined;
  return { reason, method, apiKeyId, clientIp: req.clientIp, requestId };
}
