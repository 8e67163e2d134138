import type {
  AuthFailure,
  BearerVerifier,
  CallContext,
  Logger,
  RpcHandlers,
  RpcRules,
  ServiceRegistration,
} from "@pkiserver/kit";
import { AppError, bindToCall, callOptionsWithin, invalidParams, serviceRegistration } from "@pkiserver/kit";
import { type apikeyV1, authV1 } from "@pkiserver/proto";
import type { AuthDeps } from "../../domain/ports";
import { issueRequestToken } from "../../domain/request-token";
import type { CredentialChecks } from "./apikey-client";
import { forkToken } from "./fork-token";
import { getSigningKeys } from "./get-signing-keys";
import { introspectToken } from "./introspect-token";
import { grantFailure, issueToken } from "./issue-token";
import { listRevocations } from "./list-revocations";
import { listSessions } from "./list-sessions";
import { inspectToken, revokeToken } from "./oauth-tokens";
import { revokeSession } from "./revoke-session";

export const AUTH_SERVICE_NAME = authV1.AuthServiceClient.serviceName;

/**
 * Who may call each RPC. Grants, forks and introspection check the token or
 * secret they are given; the signing keys and the list of live revocations are
 * what every verifier needs before it can verify anything (public keys, and
 * ids of withdrawn sessions and keys: no secret). Sessions are managed with
 * the `user` scopes; OAuth introspection and revocation act for the
 * authenticated API key.
 */
export const AUTH_RPC_RULES: RpcRules<authV1.AuthServiceServer> = {
  issueToken: "open",
  forkToken: "open",
  introspectToken: "open",
  getSigningKeys: "open",
  listRevocations: "open",
  listSessions: "user:read",
  revokeSession: "user:write",
  verifySecret: "open",
  verifySignature: "open",
  inspectToken: "caller",
  revokeToken: "caller",
};

/** The credential a VerifySecret or VerifySignature request carries. */
function credential<T>(req: { credential?: T | undefined }): T {
  if (req.credential === undefined) throw invalidParams("credential is missing");
  return req.credential;
}

/** The key apikey accepted, with a request token for it (a disabled key, or none, is refused as apikey would). */
async function withRequestToken(
  deps: AuthDeps,
  apiKey: apikeyV1.ApiKey | undefined,
): Promise<authV1.VerifySecretResponse> {
  if (apiKey === undefined || !apiKey.enabled) throw new AppError("auth.invalid_credentials");
  return { apiKey, ...(await issueRequestToken(deps, apiKey)) };
}

/** The admitted caller's API key (an RPC of rule `caller` never runs without one). */
const clientOf = (ctx: CallContext): string => ctx.caller?.apiKeyId ?? "";

export function authServiceRegistration(
  deps: AuthDeps,
  logger: Logger,
  /** Told of every grant refused for its credential (for the audit log); must not throw. */
  onGrantFailure: (failure: AuthFailure) => void,
  /** Verifies the Bearer tokens presented on calls; without it only trusted channels are admitted. */
  tokens: BearerVerifier | undefined,
  /** apikey's credential checks, which VerifySecret and VerifySignature pass on. */
  credentials: CredentialChecks,
): ServiceRegistration {
  // Each call works on stores and an apikey client bound to it: apikey gets
  // the caller's remaining time, and no step starts once the caller gave up.
  const forCall = bindToCall(deps, { stores: ["sessions"], clients: ["apikeys"], events: ["events"] });
  const handlers: RpcHandlers<authV1.AuthServiceServer> = {
    issueToken: (req, ctx) =>
      issueToken(forCall(ctx))(req).catch((err: unknown) => {
        const failure = grantFailure(req, err, ctx.requestId);
        if (failure) onGrantFailure(failure);
        throw err;
      }),
    forkToken: (req, ctx) => forkToken(forCall(ctx))(req),
    introspectToken: (req, ctx) => introspectToken(forCall(ctx))(req),
    getSigningKeys: (req, ctx) => getSigningKeys(forCall(ctx))(req),
    listRevocations: (req, ctx) => listRevocations(forCall(ctx))(req),
    listSessions: (req, ctx) => listSessions(forCall(ctx))(req),
    revokeSession: (req, ctx) => revokeSession(forCall(ctx))(req, ctx.caller?.scopes ?? []),
    inspectToken: (req, ctx) => inspectToken(forCall(ctx))(req, clientOf(ctx)),
    revokeToken: (req, ctx) => revokeToken(forCall(ctx))(req, clientOf(ctx)),
    verifySecret: async (req, ctx) =>
      withRequestToken(deps, (await credentials.verifySecret(credential(req), callOptionsWithin(ctx))).apiKey),
    verifySignature: async (req, ctx) =>
      withRequestToken(deps, (await credentials.verifySignature(credential(req), callOptionsWithin(ctx))).apiKey),
  };
  return serviceRegistration(AUTH_SERVICE_NAME, authV1.AuthServiceService, handlers, logger, {
    rules: AUTH_RPC_RULES,
    tokens,
  });
}
