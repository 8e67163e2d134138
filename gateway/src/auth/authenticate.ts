import type { AccessTokenClaims, RevocationCache, TokenVerifier } from "@pkiserver/contract";
import {
  AppError,
  type AsyncClient,
  type AuthFailure,
  authFailureReason,
  normaliseScopes,
  parseSignatureCredentials,
  requestSigningPayload,
  type Scope,
  SIGNATURE_SCHEME,
} from "@pkiserver/kit";
import { normaliseIp } from "@pkiserver/kit/core";
import { apikeyV1, type authV1 } from "@pkiserver/proto";
import type { Tier as RateTier } from "../http/rate-limit";
import { keyLimitsOf } from "./key-limits";

/** Who is calling, once authenticated. */
export interface Caller {
  apiKeyId: string;
  /** Expanded base scopes the caller holds. */
  scopes: Scope[];
  via: "token" | "basic" | "signature";
  /** The access token presented (via "token"): forwarded to a service reached without mutual TLS. */
  token?: string | undefined;
  /** The key's own requests-per-minute limits by tier (API.md section 9), where it has any. */
  rateLimits?: Partial<Record<RateTier, number>> | undefined;
}

/** Checks a Basic secret or a request signature; may answer with a token that speaks for the key. */
export interface CredentialChecker {
  verifySecret(
    req: apikeyV1.VerifySecretRequest,
    opts: { requestId: string },
  ): Promise<{ apiKey?: apikeyV1.ApiKey | undefined; accessToken?: string | undefined }>;
  verifySignature(
    req: apikeyV1.VerifySignatureRequest,
    opts: { requestId: string },
  ): Promise<{ apiKey?: apikeyV1.ApiKey | undefined; accessToken?: string | undefined }>;
}

/** The credential checks of auth's VerifySecret and VerifySignature (request tokens included). */
export function checkedByAuth(auth: AsyncClient<authV1.AuthServiceServer>): CredentialChecker {
  return {
    verifySecret: (credential, opts) => auth.verifySecret({ credential }, opts),
    verifySignature: (credential, opts) => auth.verifySignature({ credential }, opts),
  };
}

/** The credentials a request carries. */
export interface Credentials {
  authorization?: string | undefined;
  userToken?: string | undefined;
  /** The token bound to a WebSocket connection (auth/bindAccessToken). */
  boundToken?: string | undefined;
  /** What a signed HTTP request covers; absent over WebSocket, where requests are not signed. */
  signed?: { method: string; uri: string; body: Buffer } | undefined;
}

const MAX_HEADER_LENGTH = 8192;

/** What an authentication attempt learnt, for reporting its failure. */
interface Attempt {
  method?: "token" | "basic" | "signature";
  apiKeyId?: string;
  reason?: string;
  /** apikey refused the credential and reported its verdict itself: nothing more to report. */
  reported?: boolean;
}

function unauthorized(): AppError {
  return new AppError("auth.unauthorized");
}

/**
 * Resolves the caller of a request (API.md section 3). Tokens are verified
 * locally; Basic and signed credentials are checked by the apikey service.
 */
export class Authenticator {
  constructor(
    private readonly deps: {
      apikey: AsyncClient<apikeyV1.ApiKeyServiceServer>;
      /**
       * Who checks Basic and signed credentials: apikey (the default), or auth,
       * which also answers with a request token to forward to services reached
       * without mutual TLS (they accept no stated caller then).
       */
      credentials?: CredentialChecker | undefined;
      verifier: TokenVerifier;
      revocations: RevocationCache;
      /** Resolves when the revocation snapshot is loaded; tokens are not trusted before. */
      revocationsLoaded: () => Promise<boolean>;
      /** Told of every credential refused (for the audit log); must not throw. */
      onFailure?: (failure: AuthFailure) => void;
    },
  ) {}

  /** Resolves the caller; a credential that does not hold is reported to `onFailure` before the refusal. */
  async authenticate(creds: Credentials, clientIp: string, requestId: string): Promise<Caller> {
    const attempt: Attempt = {};
    try {
      return await this.resolve(creds, clientIp, requestId, attempt);
    } catch (err) {
      if (attempt.method !== undefined && attempt.reported !== true && this.deps.onFailure) {
        const reason = attempt.reason ?? authFailureReason(err, attempt.method === "basic" ? "secret" : attempt.method);
        if (reason !== undefined) {
          this.deps.onFailure({
            reason,
            method: attempt.method,
            apiKeyId: attempt.apiKeyId,
            clientIp,
            requestId,
          });
        }
      }
      throw err;
    }
  }

  private async resolve(creds: Credentials, clientIp: string, requestId: string, attempt: Attempt): Promise<Caller> {
    const given = creds.authorization?.trim();
    // An oversized header is no credential at all; a token, when present, still decides.
    const authorization = given !== undefined && given.length > MAX_HEADER_LENGTH ? "" : given;
    const space = authorization?.indexOf(" ") ?? -1;
    const scheme =
      authorization === undefined ? "" : (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
    const rest = authorization === undefined || space < 0 ? "" : authorization.slice(space + 1).trim();

    // A binding is made explicitly on the connection, so it outranks the upgrade request's headers.
    if (creds.boundToken !== undefined) return this.fromToken(creds.boundToken, clientIp, attempt);
    if (scheme === "bearer") return this.fromToken(rest, clientIp, attempt);
    if (creds.userToken !== undefined) return this.fromToken(creds.userToken.trim(), clientIp, attempt);
    if (scheme === "basic") return this.fromBasic(rest, clientIp, requestId, attempt);
    if (scheme === SIGNATURE_SCHEME && creds.signed !== undefined)
      return this.fromSignature(rest, creds.signed, clientIp, requestId, attempt);
    throw unauthorized();
  }

  /** Verifies an access token for use from `clientIp`: signature, expiry, revocation, IP restriction. */
  async verifyToken(token: string, clientIp: string, attempt: Attempt = {}): Promise<AccessTokenClaims> {
    const claims = await this.deps.verifier.verify(token);
    attempt.apiKeyId = claims.apiKeyId;
    // Loaded once and for good: only the first requests after start wait for it.
    if (!this.deps.revocations.isLoaded() && !(await this.deps.revocationsLoaded())) {
      // Not a failure: auth has not answered yet, and the client may retry.
      throw new AppError("rpc.unavailable", { internal: "revocation list not loaded yet" });
    }
    this.deps.revocations.check(claims);
    if (claims.ipAddr !== undefined && normaliseIp(claims.ipAddr) !== normaliseIp(clientIp)) {
      attempt.reason = "wrong_ip";
      throw new AppError("auth.token_invalid");
    }
    return claims;
  }

  private async fromToken(token: string, clientIp: string, attempt: Attempt): Promise<Caller> {
    attempt.method = "token";
    const claims = await this.verifyToken(token, clientIp, attempt);
    // The verifier hands back the same claims object for a token it remembers,
    // so the caller it makes is made once per token too.
    let caller = this.callers.get(claims);
    if (caller === undefined) {
      caller = { apiKeyId: claims.apiKeyId, scopes: normaliseScopes(claims.scope), via: "token", token };
      this.callers.set(claims, caller);
    }
    return caller;
  }

  private readonly callers = new WeakMap<AccessTokenClaims, Caller>();

  private async fromBasic(encoded: string, clientIp: string, requestId: string, attempt: Attempt): Promise<Caller> {
    attempt.method = "basic";
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw unauthorized();
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 1) throw unauthorized();
    const apiKeyId = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    if (apiKeyId.length > 128 || secret.length < 1 || secret.length > 256) throw unauthorized();
    attempt.apiKeyId = apiKeyId;
    const res = await this.checked(
      () => this.checker.verifySecret({ apiKeyId, secret, attempt: { method: "basic", clientIp } }, { requestId }),
      attempt,
    );
    const key = res.apiKey;
    // A key with a public key signs its requests; its having a secret at all is not a way in.
    if (key?.type === apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY || key?.clientPublicKey !== undefined) {
      throw unauthorized();
    }
    return this.fromKey(key, "basic", res.accessToken);
  }

  private async fromSignature(
    value: string,
    signed: NonNullable<Credentials["signed"]>,
    clientIp: string,
    requestId: string,
    attempt: Attempt,
  ): Promise<Caller> {
    attempt.method = "signature";
    const parsed = parseSignatureCredentials(value);
    // The services take the timestamp as an int64 number; one beyond that is no timestamp at all.
    if (parsed === undefined || !Number.isSafeInteger(parsed.timestamp)) throw unauthorized();
    attempt.apiKeyId = parsed.apiKeyId;
    const payload = requestSigningPayload(parsed.timestamp, parsed.nonce, signed.method, signed.uri, signed.body);
    const res = await this.checked(
      () =>
        this.checker.verifySignature(
          {
            apiKeyId: parsed.apiKeyId,
            timestamp: parsed.timestamp,
            nonce: parsed.nonce,
            payload,
            signature: parsed.signature,
            attempt: { method: "signature", clientIp },
          },
          { requestId },
        ),
      attempt,
    );
    return this.fromKey(res.apiKey, "signature", res.accessToken);
  }

  private get checker(): CredentialChecker {
    return this.deps.credentials ?? this.deps.apikey;
  }

  private fromKey(key: apikeyV1.ApiKey | undefined, via: Caller["via"], token: string | undefined): Caller {
    if (key === undefined || !key.enabled) throw unauthorized();
    return {
      apiKeyId: key.apiKeyId,
      scopes: normaliseScopes(key.maxScope),
      via,
      ...(token ? { token } : {}),
      rateLimits: keyLimitsOf(key.rateLimits),
    };
  }

  /**
   * Any refusal of a credential is `14`; an outage or a failure stays what it
   * is rather than posing as one. apikey reports its verdict on a credential it
   * refused to the audit log itself, so the refusal is not reported again here.
   */
  private async checked<T>(call: () => Promise<T>, attempt: Attempt): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const e = AppError.from(err);
      if (e.code === "rpc.internal" || e.code === "rpc.unavailable") throw e;
      attempt.reported = e.code === "auth.invalid_credentials" || e.code === "apikey.not_found";
      throw unauthorized();
    }
  }
}
