import { type AuthFailure, authFailureReason, invalidParams } from "@pkiserver/kit";
import type { authV1 } from "@pkiserver/proto";
import type { TokenPair } from "../../domain/entities";
import { issueTokenForClient } from "../../domain/issue-token";
import type { AuthDeps } from "../../domain/ports";
import { refreshSession } from "../../domain/refresh-session";
import { refusedByApikey } from "./apikey-client";
import { tokenPairToProto } from "./codec";

const toResponse = (pair: TokenPair): authV1.IssueTokenResponse => ({ token: tokenPairToProto(pair) });

export function issueToken(deps: AuthDeps) {
  return async (req: authV1.IssueTokenRequest): Promise<authV1.IssueTokenResponse> => {
    const grant = req.grant;
    if (!grant) throw invalidParams("Key 'grantType' is required");
    // The proto's grant messages carry the domain's fields under the same names.
    switch (grant.$case) {
      case "clientCredentials":
        return toResponse(
          await issueTokenForClient(deps, { type: "client_credentials", ...grant.value, clientIp: req.clientIp }),
        );
      case "clientSignature":
        return toResponse(
          await issueTokenForClient(deps, { type: "client_signature", ...grant.value, clientIp: req.clientIp }),
        );
      case "refreshToken":
        return toResponse(await refreshSession(deps, grant.value.refreshToken, req.clientIp, grant.value.clientId));
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
