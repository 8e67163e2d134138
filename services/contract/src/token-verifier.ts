import { AppError, normaliseScopes } from "@pkiserver/kit/core";
import { LRUCache } from "lru-cache";
import { RevocationCache } from "./revocations";
import {
  type AccessTokenClaims,
  createAccessTokenVerifier,
  importPublicJwk,
  type TokenIdentity,
  type VerifierKey,
} from "./token";

/**
 * Verifies an access token locally. Throws AppError `auth.token_expired` (75)
 * for an expired token and `auth.token_invalid` (76) for anything that does
 * not parse or verify. Revocation is not its concern.
 */
export interface TokenVerifier {
  verify(token: string): Promise<AccessTokenClaims>;
}

/** A public key that verifies access tokens, as auth's GetSigningKeys reports it. */
export type SigningKeyInput = VerifierKey;

/** A verifier whose keys are kept equal to auth's signing keys (`startSigningKeySync` in the kit). */
export interface KeyedTokenVerifier extends TokenVerifier {
  setKeys(keys: readonly SigningKeyInput[]): void;
}

export function isKeyedTokenVerifier(v: TokenVerifier): v is KeyedTokenVerifier {
  return typeof (v as Partial<KeyedTokenVerifier>).setKeys === "function";
}

/** Keys the verifier can use now: readable Ed25519 keys not past their verifyUntil. */
function usableKeys(list: readonly SigningKeyInput[], now: number): SigningKeyInput[] {
  return list.filter((k) => {
    if (k.kid.length === 0 || (k.verifyUntil !== undefined && k.verifyUntil > 0 && k.verifyUntil < now)) return false;
    try {
      importPublicJwk(k.publicJwk);
      return true;
    } catch {
      // An unreadable key verifies nothing; the others still work.
      return false;
    }
  });
}

export interface JwksVerifierOptions {
  now?: () => number;
  /**
   * Fetches the current keys when a token names an unknown key id (a key
   * created since the last sync), at most once per `refetchIntervalMs`.
   */
  fetchKeys?: () => Promise<readonly SigningKeyInput[]>;
  refetchIntervalMs?: number;
  /** The issuer and audience tokens must name; the codec's defaults when absent. */
  identity?: TokenIdentity;
  /** How many verified tokens to remember (default 8192; 0 turns the memo off). */
  cacheSize?: number;
}

/**
 * Verifies the access tokens auth signs (compact JWS, EdDSA over Ed25519, the
 * key named by `kid`) with auth's own codec, keeping only keys that can still
 * verify something and tolerating unreadable ones.
 */
export function createJwksTokenVerifier(opts: JwksVerifierOptions = {}): KeyedTokenVerifier {
  const now = opts.now ?? Date.now;
  const { fetchKeys } = opts;
  // The codec is auth's own, so every verifier checks exactly what auth signs.
  const inner = createAccessTokenVerifier({
    now,
    ...(opts.identity === undefined ? {} : { identity: opts.identity }),
    ...(opts.refetchIntervalMs === undefined ? {} : { refetchIntervalMs: opts.refetchIntervalMs }),
    ...(fetchKeys ? { fetchKeys: async () => usableKeys(await fetchKeys(), now()) } : {}),
  });
  // A client presents the same token on every request until it expires, and
  // its signature check is the costliest step of authenticating it. A token
  // that verified once is remembered until it expires (bounded in count and
  // time); revocation is not the verifier's concern and is still checked on
  // every request by the caller. A change of keys forgets everything, so a
  // token is never accepted on a key that was withdrawn.
  const cacheSize = opts.cacheSize ?? 8192;
  const verified = cacheSize > 0 ? new LRUCache<string, AccessTokenClaims>({ max: cacheSize }) : undefined;
  return {
    setKeys: (list) => {
      inner.setKeys(usableKeys(list, now()));
      verified?.clear();
    },
    verify: async (token) => {
      const known = verified?.get(token);
      if (known !== undefined) {
        if (known.expiresAt <= now()) {
          verified?.delete(token);
          throw new AppError("auth.token_expired");
        }
        return known;
      }
      const claims = await inner.verify(token);
      verified?.set(token, claims);
      return claims;
    },
  };
}

/** A caller as an access token establishes it (the shape of the kit's `Caller`). */
export interface BearerCaller {
  readonly apiKeyId: string;
  /** Expanded base scopes. */
  readonly scopes: readonly string[];
  readonly token: string;
}

/**
 * Verifies a Bearer token presented on a gRPC call: signature and expiry by
 * `verifier` (which remembers tokens it verified), withdrawal by
 * `revocations` on every call. Until the revocation list is loaded no token is
 * trusted (`-32000`, the caller may retry). The token's `ipAddr:` restriction
 * is the gateway's to enforce: a service sees its peer, not the client.
 */
export function createBearerVerifier(opts: { verifier: TokenVerifier; revocations: RevocationCacheLike }): {
  verify(token: string): Promise<BearerCaller>;
} {
  const callers = new WeakMap<AccessTokenClaims, BearerCaller>();
  return {
    verify: async (token) => {
      const claims = await opts.verifier.verify(token);
      if (!opts.revocations.isLoaded()) {
        throw new AppError("rpc.unavailable", { internal: "revocation list not loaded yet" });
      }
      opts.revocations.check(claims);
      // The verifier hands back the same claims object for a token it remembers.
      let caller = callers.get(claims);
      if (caller === undefined) {
        caller = { apiKeyId: claims.apiKeyId, scopes: normaliseScopes(claims.scope), token };
        callers.set(claims, caller);
      }
      return caller;
    },
  };
}

/** What `createBearerVerifier` needs of the revocation cache. */
export interface RevocationCacheLike {
  isLoaded(): boolean;
  /** Throws `75` when the token has been withdrawn. */
  check(claims: AccessTokenClaims): void;
}

/**
 * What a process needs to verify the tokens presented to it, made from where
 * auth's keys are read: the verifier (its keys kept current by the kit's
 * `startAuthSync`), the revocation cache (likewise), and the Bearer check made
 * of both.
 */
export function tokenChecks(identity: TokenIdentity) {
  return (source: { getSigningKeys(req: Record<string, never>): Promise<{ keys: SigningKeyInput[] }> }) => {
    const verifier = createJwksTokenVerifier({
      identity,
      fetchKeys: async () => (await source.getSigningKeys({})).keys,
    });
    const cache = new RevocationCache();
    return { verifier, cache, bearer: createBearerVerifier({ verifier, revocations: cache }) };
  };
}
