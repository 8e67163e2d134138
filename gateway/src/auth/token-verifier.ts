import { AppError } from "@pkiserver/kit";
import { createLocalJWKSet, type JSONWebKeySet, type JWK, errors as joseErrors, jwtVerify } from "jose";

/** What a verified access token says about its bearer. Times are ms since the epoch. */
export interface TokenClaims {
  apiKeyId: string;
  sessionId: string;
  generation: number;
  scope: string[];
  ipAddr?: string | undefined;
  expiresAt: number;
  issuedAt: number;
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

/** A verifier whose keys the gateway keeps in sync with auth's signing keys. */
export interface KeyedTokenVerifier extends TokenVerifier {
  setKeys(keys: readonly SigningKeyInput[]): void;
  /** Whether any key is loaded. */
  hasKeys(): boolean;
}

export function isKeyedTokenVerifier(v: TokenVerifier): v is KeyedTokenVerifier {
  return typeof (v as Partial<KeyedTokenVerifier>).setKeys === "function";
}

const MAX_TOKEN_LENGTH = 1024;

function invalid(): AppError {
  return new AppError("auth.token_invalid");
}

function readScope(raw: unknown): string[] | undefined {
  if (typeof raw === "string") return raw.split(" ").filter((s) => s.length > 0);
  if (Array.isArray(raw) && raw.every((s) => typeof s === "string")) return raw as string[];
  return undefined;
}

/**
 * Verifies compact EdDSA (Ed25519) JWS access tokens against the key named by
 * the token's `kid`. Claims: `sub` API key id, `sid` session id, `gen`
 * session generation, `scope`, optional `ip`, `exp`, `iat`.
 */
export function createJwksTokenVerifier(now: () => number = Date.now): KeyedTokenVerifier {
  let keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  let count = 0;

  return {
    setKeys(keys) {
      const t = now();
      const jwks: JWK[] = [];
      for (const k of keys) {
        if (k.verifyUntil !== undefined && k.verifyUntil > 0 && k.verifyUntil < t) continue;
        try {
          const jwk = JSON.parse(k.publicJwk) as JWK;
          if (typeof jwk !== "object" || jwk === null || jwk.kty !== "OKP" || jwk.crv !== "Ed25519") continue;
          // A private part must never be used here, even if sent by mistake.
          const { d: _d, ...pub } = jwk;
          jwks.push({ ...pub, kid: k.kid });
        } catch {
          // An unreadable key verifies nothing; the others still work.
        }
      }
      count = jwks.length;
      keySet = createLocalJWKSet({ keys: jwks } as JSONWebKeySet);
    },

    hasKeys: () => count > 0,

    async verify(token) {
      if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH || keySet === undefined) {
        throw invalid();
      }
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, keySet, {
          algorithms: ["EdDSA", "Ed25519"],
          currentDate: new Date(now()),
          requiredClaims: ["exp", "sub"],
        }));
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) throw new AppError("auth.token_expired");
        throw invalid();
      }
      const scope = readScope(payload.scope);
      const { sub, sid, gen, ip, exp, iat } = payload;
      if (
        typeof sub !== "string" ||
        typeof sid !== "string" ||
        typeof gen !== "number" ||
        !Number.isInteger(gen) ||
        scope === undefined ||
        typeof exp !== "number" ||
        (ip !== undefined && typeof ip !== "string") ||
        (iat !== undefined && typeof iat !== "number")
      ) {
        throw invalid();
      }
      return {
        apiKeyId: sub,
        sessionId: sid,
        generation: gen,
        scope,
        ipAddr: ip,
        expiresAt: exp * 1000,
        // Without iat the token counts as older than any key change, the safe side.
        issuedAt: iat === undefined ? 0 : iat * 1000,
      };
    },
  };
}
