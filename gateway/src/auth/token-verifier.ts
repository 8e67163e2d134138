import { createPublicKey, type KeyObject } from "node:crypto";
import { AppError } from "@pkiserver/kit";
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";

/** What a verified access token says about its bearer. Times are ms since the epoch. */
export interface TokenClaims {
  apiKeyId: string;
  sessionId: string;
  generation: number;
  scope: string[];
  ipAddr?: string | undefined;
  expiresAt: number;
  issuedAt: number;
  /**
   * How precise `issuedAt` is, in ms: 1000 when only the standard `iat`
   * (seconds) was available, which is assumed when absent.
   */
  issuedAtResolutionMs?: number | undefined;
}

/**
 * Verifies an access token locally. Throws AppError `auth.token_expired` (75)
 * for an expired token and `auth.token_invalid` (76) for anything that does
 * not parse or verify. Revocation is not its concern.
 */
export interface TokenVerifier {
  verify(token: string): Promise<TokenClaims>;
}

/** A public key that verifies access tokens, as auth's GetSigningKeys reports it. */
export interface SigningKeyInput {
  kid: string;
  /** The public key as a JWK, serialised. */
  publicJwk: string;
  /** ms; after it no token signed by the key can be valid (0: unknown). */
  verifyUntil?: number;
}

/** A verifier whose keys the gateway keeps equal to auth's signing keys. */
export interface KeyedTokenVerifier extends TokenVerifier {
  setKeys(keys: readonly SigningKeyInput[]): void;
}

export function isKeyedTokenVerifier(v: TokenVerifier): v is KeyedTokenVerifier {
  return typeof (v as Partial<KeyedTokenVerifier>).setKeys === "function";
}

export const TOKEN_ISSUER = "pkiserver";
const MAX_TOKEN_LENGTH = 1024;

const invalid = () => new AppError("auth.token_invalid");
const expired = () => new AppError("auth.token_expired");

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function importPublicJwk(publicJwk: string): KeyObject | undefined {
  try {
    const jwk = JSON.parse(publicJwk) as Record<string, unknown>;
    // Only the public part is ever used, even if a private one were sent by mistake.
    if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") return undefined;
    return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" });
  } catch {
    return undefined;
  }
}

export interface JwksVerifierOptions {
  now?: () => number;
  /**
   * Fetches the current keys when a token names an unknown key id (a key
   * created since the last sync), at most once per `refetchIntervalMs`.
   */
  fetchKeys?: () => Promise<readonly SigningKeyInput[]>;
  refetchIntervalMs?: number;
}

/**
 * Verifies the access tokens auth signs: compact JWS, EdDSA over Ed25519, the
 * key named by `kid`. Claims: `iss` "pkiserver", `sub` API key id, `sid`
 * session id, `gen` session generation, `scope`, optional `ip`, `iat`/`exp`
 * in seconds and, when present, `iat_ms`/`exp_ms` in ms (authoritative).
 */
export function createJwksTokenVerifier(opts: JwksVerifierOptions = {}): KeyedTokenVerifier {
  const now = opts.now ?? Date.now;
  const refetchInterval = opts.refetchIntervalMs ?? 5000;
  let keys = new Map<string, KeyObject>();
  let lastFetch = Number.NEGATIVE_INFINITY;

  const verifier: KeyedTokenVerifier = {
    setKeys(list) {
      const t = now();
      const next = new Map<string, KeyObject>();
      for (const k of list) {
        if (k.verifyUntil !== undefined && k.verifyUntil > 0 && k.verifyUntil < t) continue;
        const key = importPublicJwk(k.publicJwk);
        // An unreadable key verifies nothing; the others still work.
        if (key !== undefined && k.kid.length > 0) next.set(k.kid, key);
      }
      keys = next;
    },

    async verify(token) {
      if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
      let kid: unknown;
      try {
        const header = decodeProtectedHeader(token);
        if (header.alg !== "EdDSA") throw invalid();
        kid = header.kid;
      } catch {
        throw invalid();
      }
      if (typeof kid !== "string") throw invalid();
      let key = keys.get(kid);
      if (key === undefined && opts.fetchKeys && now() - lastFetch >= refetchInterval) {
        lastFetch = now();
        try {
          verifier.setKeys(await opts.fetchKeys());
        } catch {
          // Keep the keys there are; this token stays unverifiable.
        }
        key = keys.get(kid);
      }
      if (key === undefined) throw invalid();
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, key, {
          issuer: TOKEN_ISSUER,
          algorithms: ["EdDSA"],
          currentDate: new Date(now()),
          requiredClaims: ["sub", "exp", "iat"],
        }));
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) throw expired();
        throw invalid();
      }
      const { sub, sid, gen, scope, ip, iat, exp, iat_ms, exp_ms } = payload;
      if (typeof sub !== "string" || typeof sid !== "string" || !isNonNegativeInt(gen)) throw invalid();
      if (!Array.isArray(scope) || !scope.every((s) => typeof s === "string")) throw invalid();
      if (ip !== undefined && typeof ip !== "string") throw invalid();
      if (!isNonNegativeInt(iat) || !isNonNegativeInt(exp)) throw invalid();
      if ((iat_ms !== undefined && !isNonNegativeInt(iat_ms)) || (exp_ms !== undefined && !isNonNegativeInt(exp_ms))) {
        throw invalid();
      }
      const expiresAt = exp_ms ?? exp * 1000;
      if (expiresAt <= now()) throw expired();
      return {
        apiKeyId: sub,
        sessionId: sid,
        generation: gen,
        scope: scope as string[],
        ...(ip === undefined ? {} : { ipAddr: ip }),
        issuedAt: iat_ms ?? iat * 1000,
        issuedAtResolutionMs: iat_ms === undefined ? 1000 : 1,
        expiresAt,
      };
    },
  };
  return verifier;
}
