import { AppError } from "./errors";
import { ALL_SCOPES, normaliseScopes, type Scope } from "./scope";

/*
 * Who a gRPC call is made for, and who may make it. A service authenticates
 * every call (API.md section 3; README "Security"):
 * - a Bearer access token in the `authorization` metadata, verified by the
 *   service itself with auth's signing keys and revocations, whose scope the
 *   RPC's rule is checked against; or
 * - a peer authenticated by mutual TLS: an internal component, which may state
 *   the end user's verified identity in metadata (never in the request body);
 *   stating none, it acts for itself with every scope; or
 * - a call made in this process (the one-process form), which hands over the
 *   caller its gateway already verified, as an object.
 * RPCs that check a presented secret themselves are open to anyone.
 */

/** The caller of a call, once authenticated. */
export interface Caller {
  /** The API key the call is made for; "" for an internal component acting for itself. */
  readonly apiKeyId: string;
  /** Expanded base scopes (`user:read`, …) the caller holds. */
  readonly scopes: readonly string[];
  /** The access token the caller presented: what a client forwards over a channel without mutual TLS. */
  readonly token?: string | undefined;
}

/** An internal component acting for itself (a trusted channel that states no caller). */
export const INTERNAL_CALLER: Caller = Object.freeze({ apiKeyId: "", scopes: ALL_SCOPES });

/**
 * Who may call an RPC: anyone (`open`: it checks a secret presented in the
 * request itself), any authenticated API key (`caller`), or a caller holding
 * the scope.
 */
export type RpcRule = "open" | "caller" | Scope;

/** Verifies a Bearer access token presented on a call: signature, expiry, revocation. */
export interface BearerVerifier {
  verify(token: string): Promise<Caller>;
}

/** How a service authenticates its calls: a rule per RPC, and the token verifier (absent: tokens are refused). */
export interface CallAccess<Names extends string = string> {
  readonly rules: Readonly<Record<Names, RpcRule>>;
  readonly tokens: BearerVerifier | undefined;
}

/** Metadata keys of a call's credentials: a Bearer token, or the caller an mTLS peer states. */
export const CallerMetadata = {
  authorization: "authorization",
  keyId: "pmx-on-behalf-of",
  scope: "pmx-on-behalf-of-scope",
} as const;

/** Most characters of a stated scope list (every scope spelt out is far shorter). */
const MAX_STATED_SCOPE_LENGTH = 512;
const MAX_KEY_ID_LENGTH = 128;

/** The caller an mTLS peer states; itself, with every scope, when it states none. */
export function statedCaller(keyId: string | undefined, scope: string | undefined): Caller {
  if (keyId === undefined) return INTERNAL_CALLER;
  if (keyId.length > MAX_KEY_ID_LENGTH || (scope !== undefined && scope.length > MAX_STATED_SCOPE_LENGTH)) {
    throw new AppError("auth.unauthorized");
  }
  return { apiKeyId: keyId, scopes: scope === undefined || scope === "" ? [] : normaliseScopes(scope.split(" ")) };
}

/** Throws `14` (UNAUTHENTICATED) or `73` (PERMISSION_DENIED) unless `caller` may make a call under `rule`. */
export function admitCaller(rule: RpcRule, caller: Caller | undefined): void {
  if (rule === "open") return;
  if (caller === undefined) throw new AppError("auth.unauthorized");
  if (rule === "caller") {
    if (caller.apiKeyId === "") throw new AppError("auth.unauthorized");
    return;
  }
  if (!caller.scopes.includes(rule)) throw new AppError("auth.insufficient_scope");
}

/** The token of an `authorization: Bearer <token>` value, else undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.length < 8) return undefined;
  if (authorization.slice(0, 7).toLowerCase() !== "bearer ") return undefined;
  const token = authorization.slice(7).trim();
  return token === "" ? undefined : token;
}

/**
 * Every RPC of `definition` open to anyone, with no token verifier: for test
 * doubles of a service (fakes that stand in for one), never for a service.
 */
export function openAccess(definition: Readonly<Record<string, unknown>>): CallAccess {
  return {
    rules: Object.fromEntries(Object.keys(definition).map((name) => [name, "open" as const])),
    tokens: undefined,
  };
}
