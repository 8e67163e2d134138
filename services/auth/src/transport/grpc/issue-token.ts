import { invalidParams } from "@pkiserver/kit";
import type { authV1 } from "@pkiserver/proto";
import type { AuthDeps } from "../../domain/deps";
import { issueTokenForClient } from "../../domain/issue-token";
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
