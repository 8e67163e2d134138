import {
  type AsyncHandlers,
  type AuthFailure,
  bindToCall,
  type Logger,
  perCall,
  type Rpcs,
  registration,
} from "@pkiserver/kit";
import { authV1 } from "@pkiserver/proto";
import type { AuthDeps } from "../../domain/ports";
import { forkToken } from "./fork-token";
import { getSigningKeys } from "./get-signing-keys";
import { introspectToken } from "./introspect-token";
import { grantFailure, issueToken } from "./issue-token";
import { listRevocations } from "./list-revocations";
import { listSessions } from "./list-sessions";
import { inspectToken, revokeToken } from "./oauth-tokens";
import { revokeSession } from "./revoke-session";

export const AUTH_SERVICE_NAME = authV1.AuthServiceClient.serviceName;

export function authServiceRegistration(
  deps: AuthDeps,
  logger: Logger,
  /** Told of every grant refused for its credential (for the audit log); must not throw. */
  onGrantFailure: (failure: AuthFailure) => void = () => {},
) {
  // Each call works on stores and an apikey client bound to it: apikey gets
  // the caller's remaining time, and no step starts once the caller gave up.
  const forCall = bindToCall(deps, { stores: ["sessions"], clients: ["apikeys"] });
  const handlers: AsyncHandlers<Rpcs<authV1.AuthServiceServer>> = {
    issueToken: (req, ctx) =>
      issueToken(forCall(ctx))(req).catch((err: unknown) => {
        const failure = grantFailure(req, err, ctx.requestId);
        if (failure) onGrantFailure(failure);
        throw err;
      }),
    ...perCall(forCall, {
      forkToken,
      introspectToken,
      getSigningKeys,
      listRevocations,
      listSessions,
      revokeSession,
      inspectToken,
      revokeToken,
    }),
  };
  return registration<authV1.AuthServiceServer>(authV1.AuthServiceClient, authV1.AuthServiceService, handlers, logger);
}
