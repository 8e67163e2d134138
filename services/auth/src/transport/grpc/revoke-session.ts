import type { authV1 } from "@pkiserver/proto";
import type { AuthDeps } from "../../domain/ports";
import { revokeSessionById } from "../../domain/revoke-session-by-id";

export function revokeSession(deps: AuthDeps) {
  return async (req: authV1.RevokeSessionRequest): Promise<authV1.RevokeSessionResponse> => {
    await revokeSessionById(deps, req.sessionId);
    return {};
  };
}
