import type { authV1 } from "@pkiserver/proto";
import { introspectToken as introspect } from "../../domain/introspect-token";
import type { AuthDeps } from "../../domain/ports";
import { claimsToProto } from "./codec";

export function introspectToken(deps: AuthDeps) {
  return async (req: authV1.IntrospectTokenRequest): Promise<authV1.IntrospectTokenResponse> => ({
    claims: claimsToProto(await introspect(deps, req.accessToken)),
  });
}
