import type { authV1 } from "@pkiserver/proto";
import { listSessions as list } from "../../domain/list-sessions";
import type { AuthDeps } from "../../domain/ports";
import { sessionToProto } from "./codec";

export function listSessions(deps: AuthDeps) {
  return async (req: authV1.ListSessionsRequest): Promise<authV1.ListSessionsResponse> => ({
    sessions: (await list(deps, req.apiKeyId)).map(sessionToProto),
  });
}
