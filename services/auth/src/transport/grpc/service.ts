import { type AsyncHandlers, implement, type Logger, type ServiceRegistration } from "@pkiserver/kit";
import { authV1 } from "@pkiserver/proto";
import type { AuthDeps } from "../../domain/deps";
import { forkToken } from "./fork-token";
import { getSigningKeys } from "./get-signing-keys";
import { introspectToken } from "./introspect-token";
import { issueToken } from "./issue-token";
import { listRevocations } from "./list-revocations";
import { listSessions } from "./list-sessions";
import { revokeSession } from "./revoke-session";

/**
 * The generated server interface without the index signature it inherits from
 * grpc-js: mapped over, that signature would demand a `never` handler.
 */
export type AuthServiceMethods = {
  [K in keyof authV1.AuthServiceServer as string extends K ? never : K]: authV1.AuthServiceServer[K];
};

export const AUTH_SERVICE_NAME = "pkiserver.auth.v1.AuthService";

export function authServiceRegistration(deps: AuthDeps, logger: Logger): ServiceRegistration {
  const handlers: AsyncHandlers<AuthServiceMethods> = {
    issueToken: issueToken(deps),
    forkToken: forkToken(deps),
    introspectToken: introspectToken(deps),
    getSigningKeys: getSigningKeys(deps),
    listRevocations: listRevocations(deps),
    listSessions: listSessions(deps),
    revokeSession: revokeSession(deps),
  };
  return {
    name: AUTH_SERVICE_NAME,
    definition: authV1.AuthServiceService,
    implementation: implement<AuthServiceMethods>(authV1.AuthServiceService, handlers, logger),
  };
}
