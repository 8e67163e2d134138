import { createPublicKey, type KeyObject } from "node:crypto";
import { AppError, decodeCanonicalBase64, randomBase64url } from "@pkiserver/kit/core";
import { CompactSign, decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";
import { MAX_TOKEN_LENGTH } from "./fields";

/*
 * Access tokens: compact JWS, EdDSA over Ed25519, an RFC 9068 profile (header
 * typ "at+jwt") so standard JWT verifiers accept them. Claims:
 *   iss (PMX_ISSUER), aud (PMX_TOKEN_AUDIENCE), sub = client_id = API key id,
 *   jti (random), scope = expanded base scopes space-separated,
 *   sid = session id, gen = session generation, ip = bound client IP (optional),
 *   iat/exp in seconds (standard), iat_ms/exp_ms in milliseconds (authoritative),
 *   sct = when the session was created, ms (absent on tokens issued before it existed).
 * This file is the whole codec: auth signs with it and the gateway verifies
 * with it, so both read the same claims in the same way.
 */

/** The issuer when PMX_ISSUER is unset and PMX_PORT is the default. */
export const TOKEN_ISSUER = "http://localhost:8101";
export const TOKEN_AUDIENCE = "pkiserver";
export const TOKEN_ALG = "EdDSA";
export const TOKEN_TYPE = "at+jwt";
/** Bounds that keep a token with the longest scope within MAX_TOKEN_LENGTH. */
export const MAX_ISSUER_LENGTH = 128;
export const MAX_AUDIENCE_LENGTH = 32;

/** Who signs and for whom: known to auth (signing) and every gateway (verifying). */
export interface TokenIdentity {
  issuer: string;
  audience: string;
}

/**
 * The token issuer and audience from the environment, read the same way by
 * auth and the gateway: `PMX_ISSUER` (default `http://localhost:<PMX_PORT>`,
 * port 8101 by default) and `PMX_TOKEN_AUDIENCE` (default `pkiserver`).
 */
export function tokenIdentityFromEnv(env: {
  PMX_PORT?: string | number | undefined;
  PMX_ISSUER?: string | undefined;
  PMX_TOKEN_AUDIENCE?: string | undefined;
}): TokenIdentity {
  const port = env.PMX_PORT === undefined || env.PMX_PORT === "" ? "8101" : String(env.PMX_PORT);
  const issuer = env.PMX_ISSUER === undefined || env.PMX_ISSUER === "" ? `http://localhost:${port}` : env.PMX_ISSUER;
  const audience =
    env.PMX_TOKEN_AUDIENCE === undefined || env.PMX_TOKEN_AUDIENCE === "" ? TOKEN_AUDIENCE : env.PMX_TOKEN_AUDIENCE;
  return { issuer, audience };
}

/** Why a token identity cannot be used, or undefined when it can. */
export function tokenIdentityProblem(id: TokenIdentity): { field: string; message: string } | undefined {
  if (id.issuer.length > MAX_ISSUER_LENGTH || !/^https?:\/\/[^\s?#]+$/.test(id.issuer)) {
    return {
      field: "PMX_ISSUER",
      message: `must be an http(s) URL without query or fragment, at most ${MAX_ISSUER_LENGTH} characters`,
    };
  }
  if (id.audience.length > MAX_AUDIENCE_LENGTH || !/^[\x21-\x7e]+$/.test(id.audience)) {
    return { field: "PMX_TOKEN_AUDIENCE", message: `must be 1..${MAX_AUDIENCE_LENGTH} printable ASCII characters` };
  }
  return undefined;
}

const DEFAULT_IDENTITY: TokenIdentity = { issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE };

export { MAX_TOKEN_LENGTH };

/**
 * The longest any token may live (90 days): the refresh lifetime may not
 * exceed it, and an access token never outlives the refresh lifetime. What
 * verifiers keep about withdrawn tokens is bounded by it.
 */
export const MAX_TOKEN_LIFETIME_MS = 90 * 86_400_000;

export interface AccessTokenClaims {
  /** `sub` */
  apiKeyId: string;
  /** `sid` */
  sessionId: string;
  /** `gen`: refused once the session has rotated past it. */
  generation: number;
  /** `scope`: expanded base scopes (`user:read`, …). */
  scope: string[];
  /** `ip`: the normalised client IP the token is bound to. */
  ipAddr?: string | undefined;
  /** `iat_ms` */
  issuedAt: number;
  /** `exp_ms` */
  expiresAt: number;
  /**
   * `sct`: when the session was created (ms). With the session id it places
   * the session against its key's cap mark (every session of the key at or
   * before the mark is closed). Absent on tokens issued before it existed.
   */
  sessionCreatedAt?: number | undefined;
}

/**
 * The `sct` of a token bound to no session (a request token): no cap closes
 * it, so it stands above every cap mark. The year 2286, after every session's
 * creation; as many digits as a session's own `sct` (the token length bound).
 */
export const SESSIONLESS_CREATED_AT = 9_999_999_999_999;

/** A public verification key (the shape of `authV1.SigningKey`). */
export interface PublicSigningKey {
  kid: string;
  /** JSON of an OKP/Ed25519 public JWK. */
  publicJwk: string;
  createdAt: number;
  /** After this instant no token signed by the key can still be valid. */
  verifyUntil: number;
}

/** What a verifier needs of a key; `authV1.SigningKey` and `PublicSigningKey` both fit. */
export interface VerifierKey {
  kid: string;
  publicJwk: string;
  createdAt?: number;
  verifyUntil?: number;
}

export interface SigningMaterial {
  kid: string;
  privateKey: KeyObject;
}

export async function signAccessToken(
  claims: AccessTokenClaims,
  key: SigningMaterial,
  identity: TokenIdentity = DEFAULT_IDENTITY,
): Promise<string> {
  // The claims set is written here and signed as a compact JWS: the same JWT as SignJWT makes,
  // without its claim-by-claim validation of values this function itself computes.
  const payload: Record<string, unknown> = {
    client_id: claims.apiKeyId,
    scope: claims.scope.join(" "),
    sid: claims.sessionId,
    gen: claims.generation,
    iat_ms: claims.issuedAt,
    exp_ms: claims.expiresAt,
    ...(claims.ipAddr === undefined ? {} : { ip: claims.ipAddr }),
    ...(claims.sessionCreatedAt === undefined ? {} : { sct: claims.sessionCreatedAt }),
    iss: identity.issuer,
    aud: identity.audience,
    sub: claims.apiKeyId,
    jti: randomBase64url(16),
    iat: Math.floor(claims.issuedAt / 1000),
    exp: Math.ceil(claims.expiresAt / 1000),
  };
  const token = await new CompactSign(Buffer.from(JSON.stringify(payload), "utf8"))
    .setProtectedHeader({ alg: TOKEN_ALG, kid: key.kid, typ: TOKEN_TYPE })
    .sign(key.privateKey);
  if (token.length > MAX_TOKEN_LENGTH) throw new Error(`access token of ${token.length} characters exceeds the limit`);
  return token;
}

/** Parses a JWK JSON string into an Ed25519 public KeyObject; throws on anything else. */
export function importPublicJwk(publicJwk: string): KeyObject {
  const jwk = JSON.parse(publicJwk) as Record<string, unknown>;
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string" || "d" in jwk) {
    throw new Error("not an Ed25519 public JWK");
  }
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" });
}

export interface AccessTokenVerifier {
  /** Replaces the verification keys (e.g. with GetSigningKeys' answer). Throws on a malformed key. */
  setKeys(keys: readonly VerifierKey[]): void;
  /** Adds or replaces one key (e.g. from a `signingKeyRotated` event). */
  addKey(key: VerifierKey): void;
  /** Key ids currently known. */
  kids(): string[];
  /**
   * Checks signature, issuer and expiry and returns the claims. Throws AppError
   * `auth.token_invalid` (76) for anything that does not parse or verify, and
   * `auth.token_expired` (75) for an expired token. It does not know about
   * revocations or session generations: the caller checks those.
   */
  verify(token: string): Promise<AccessTokenClaims>;
}

export interface VerifierOptions {
  now?: () => number;
  /** The issuer and audience tokens must name; TOKEN_ISSUER and TOKEN_AUDIENCE by default. */
  identity?: TokenIdentity;
  /**
   * Called when a token names an unknown key id (a key created since the last
   * fetch); its answer replaces the keys. Called at most once per
   * `refetchIntervalMs` so unknown kids cannot cause a fetch storm.
   */
  fetchKeys?: () => Promise<readonly VerifierKey[]>;
  refetchIntervalMs?: number;
}

interface KnownKey {
  meta: VerifierKey;
  key: KeyObject;
}

const invalid = () => new AppError("auth.token_invalid");
const expired = () => new AppError("auth.token_expired");

/**
 * A compact JWS of three non-empty segments, each canonical base64url. jose
 * decodes leniently on Node 20 (appended `=`, other last characters with the
 * same bytes), which would let one signed token travel under other spellings.
 */
function isCanonicalCompactJws(token: string): boolean {
  const segments = token.split(".");
  return (
    segments.length === 3 && segments.every((s) => s.length > 0 && decodeCanonicalBase64(s, "base64url") !== undefined)
  );
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

export function createAccessTokenVerifier(opts: VerifierOptions = {}): AccessTokenVerifier {
  const now = opts.now ?? Date.now;
  const refetchInterval = opts.refetchIntervalMs ?? 5000;
  const identity = opts.identity ?? DEFAULT_IDENTITY;
  let keys = new Map<string, KnownKey>();
  let lastFetch = Number.NEGATIVE_INFINITY;

  const load = (k: VerifierKey): KnownKey => {
    if (typeof k.kid !== "string" || k.kid.length === 0) throw new Error("signing key without kid");
    return { meta: { ...k }, key: importPublicJwk(k.publicJwk) };
  };

  const verifier: AccessTokenVerifier = {
    setKeys(list) {
      const next = new Map<string, KnownKey>();
      for (const k of list) next.set(k.kid, load(k));
      keys = next;
    },
    addKey(k) {
      keys.set(k.kid, load(k));
    },
    kids: () => [...keys.keys()],
    async verify(token) {
      if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
      if (!isCanonicalCompactJws(token)) throw invalid();
      let kid: unknown;
      try {
        const header = decodeProtectedHeader(token);
        if (header.alg !== TOKEN_ALG) throw invalid();
        kid = header.kid;
      } catch {
        throw invalid();
      }
      if (typeof kid !== "string") throw invalid();
      let known = keys.get(kid);
      if (!known && opts.fetchKeys && now() - lastFetch >= refetchInterval) {
        lastFetch = now();
        try {
          verifier.setKeys(await opts.fetchKeys());
        } catch {
          // Keep the keys we have; this token stays unverifiable.
        }
        known = keys.get(kid);
      }
      if (!known) throw invalid();
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, known.key, {
          issuer: identity.issuer,
          audience: identity.audience,
          typ: TOKEN_TYPE,
          algorithms: [TOKEN_ALG],
          currentDate: new Date(now()),
          requiredClaims: ["sub", "exp", "iat", "jti"],
        }));
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) throw expired();
        throw invalid();
      }
      const { sub, client_id, sid, gen, scope, ip, iat_ms, exp_ms, sct } = payload;
      if (typeof sub !== "string" || typeof sid !== "string" || !isNonNegativeInt(gen)) throw invalid();
      if (client_id !== sub || typeof scope !== "string") throw invalid();
      if (ip !== undefined && typeof ip !== "string") throw invalid();
      if (!isNonNegativeInt(iat_ms) || !isNonNegativeInt(exp_ms)) throw invalid();
      if (sct !== undefined && !isNonNegativeInt(sct)) throw invalid();
      if (exp_ms <= now()) throw expired();
      return {
        apiKeyId: sub,
        sessionId: sid,
        generation: gen,
        scope: scope === "" ? [] : scope.split(" "),
        ...(ip === undefined ? {} : { ipAddr: ip }),
        issuedAt: iat_ms,
        expiresAt: exp_ms,
        ...(sct === undefined ? {} : { sessionCreatedAt: sct }),
      };
    },
  };
  return verifier;
}
