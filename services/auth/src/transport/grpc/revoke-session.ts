import type { authV1 } from "@pkiserver/proto";
import type { AuthDeps } from "../../domain/ports";
import { revokeSessionById } from "../../domain/revoke-session-by-id";

/** `callerScopes`: the scopes the call was authenticated with; undefined for a trusted component acting for itself. */
export function revokeSession(deps: AuthDeps) {
  return async (
    req: authV1.RevokeSessionRequest,
    callerScopes: readonly string[] | undefined,
  ): Promise<authV1.RevokeSessionResponse> => {
    await revokeSessionById(deps, req.sessionId, callerScopes);
    return {};
  };
}
