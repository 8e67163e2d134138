import type { authV1 } from "@pkiserver/proto";
import { forkToken as fork } from "../../domain/fork-token";
import type { AuthDeps } from "../../domain/ports";
import { tokenPairToProto } from "./codec";

export function forkToken(deps: AuthDeps) {
  return async (req: authV1.ForkTokenRequest): Promise<authV1.ForkTokenResponse> => ({
    token: tokenPairToProto(await fork(deps, req.refreshToken, req.sessionName, req.clientIp)),
  });
}
