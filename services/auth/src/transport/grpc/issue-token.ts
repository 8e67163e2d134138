import { type AuthFailure, authFailureReason, invalidParams, SIGNATURE_WINDOW_MS } from "@pkiserver/kit";
import type { authV1 } from "@pkiserver/proto";
import { issueTokenForClient } from "../../domain/issue-token";
import type { AuthDeps } from "../../domain/ports";
import { refreshSession } from "../../domain/refresh-session";
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
  let reason = authFailureReason(err, kind);
  if (reason === undefined) return undefined;
  // apikey answers every signature refusal alike; a timestamp outside the window is told apart here.
  if (
    reason === "bad_signature" &&
    grant.$case === "clientSignature" &&
    Math.abs(Date.now() - grant.value.timestamp) > SIGNATURE_WINDOW_MS
  ) {
    reason = "stale_timestamp";
  }
  return { reason, method, apiKeyId, clientIp: req.clientIp, requestId };
}
