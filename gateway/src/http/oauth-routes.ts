import { fields, importPublicJwk, type RevocationCache, type TokenIdentity } from "@pkiserver/contract";
import { ALL_SCOPES, AppError, type AsyncClient, type Logger } from "@pkiserver/kit";
import { apikeyV1, type authV1 } from "@pkiserver/proto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RateLimiter } from "./rate-limit";
import { UNAVAILABLE_RETRY_AFTER_S } from "./readiness";

/*
 * OAuth 2.0 over the same keys, sessions and tokens as `auth/token` (API.md
 * section 13): the token endpoint (RFC 6749), introspection (RFC 7662),
 * revocation (RFC 7009), the JWKS and the server metadata (RFC 8414).
 *
 * A client (an API key with a secret) may introspect and revoke only the
 * tokens issued to it: anyone else's token, like a dead one, is reported
 * `{"active":false}` and revoking it changes nothing (RFC 7009 section 2.1).
 */

export const OAUTH_PATHS = {
  token: "/oauth2/token",
  introspect: "/oauth2/introspect",
  revoke: "/oauth2/revoke",
  jwks: "/.well-known/jwks.json",
  metadata: "/.well-known/oauth-authorization-server",
} as const;

/** How long clients and proxies may keep the JWKS and the metadata (seconds). */
export const DISCOVERY_MAX_AGE_SECONDS = 60;
const MAX_PARAM_LENGTH = 4096;

export interface OAuthRouteDeps {
  auth: AsyncClient<authV1.AuthServiceServer>;
  apikey: AsyncClient<apikeyV1.ApiKeyServiceServer>;
  revocations: RevocationCache;
  identity: TokenIdentity;
  logger: Logger;
  clientIpOf: (req: FastifyRequest) => string;
  /**
   * Requests per minute per client IP on the token, introspection and
   * revocation endpoints (PMX_RATE_LIMIT_PER_MINUTE, as auth/token gets on
   * /main), so client secrets cannot be guessed at speed; 0 turns it off.
   */
  /** The gateway's limiter: the OAuth endpoints count in the `auth` tier, per client address. */
  rateLimiter: RateLimiter;
}

type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "invalid_scope"
  | "unsupported_grant_type"
  | "temporarily_unavailable"
  | "too_many_requests"
  | "server_error";

/** An RFC 6749 section 5.2 error; `challenge` when the client used the Authorization header. */
class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description?: string,
    readonly challenge = false,
    readonly retryAfterSeconds?: number,
  ) {
    super(error);
  }
}

const invalidRequest = (description: string) => new OAuthError("invalid_request", description);

interface ClientCredentials {
  clientId: string;
  secret: string;
  /** From the Authorization header (client_secret_basic) rather than the form. */
  viaHeader: boolean;
  /** The header's secret exactly as sent, when RFC 6749's form-decoding changed it. */
  rawSecret?: string | undefined;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The form body's parameters; each at most once (RFC 6749 section 3.2), an empty value counts as absent. */
function parseForm(req: FastifyRequest): Map<string, string> {
  const type = (header(req, "content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw invalidRequest("Content-Type must be application/x-www-form-urlencoded");
  }
  const body = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
  const params = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(body)) {
    if (params.has(k)) throw invalidRequest(`parameter ${k} repeated`);
    if (k.length > 64 || v.length > MAX_PARAM_LENGTH) throw invalidRequest("parameter too long");
    params.set(k, v);
  }
  for (const [k, v] of params) if (v === "") params.delete(k);
  return params;
}

/** RFC 6749 section 2.3.1: the Basic user and password are form-encoded; decoding that fails leaves them as sent. */
function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

/**
 * The client's credentials, by client_secret_basic or client_secret_post,
 * never both (RFC 6749 section 2.3); undefined when none were sent.
 */
function clientCredentials(req: FastifyRequest, form: Map<string, string>): ClientCredentials | undefined {
  const authorization = header(req, "authorization")?.trim();
  const space = authorization?.indexOf(" ") ?? -1;
  const basic = authorization !== undefined && space > 0 && authorization.slice(0, space).toLowerCase() === "basic";
  if (basic) {
    if (form.has("client_secret")) throw invalidRequest("more than one client authentication method");
    const encoded = authorization.slice(space + 1).trim();
    const bad = new OAuthError("invalid_client", "malformed Basic credentials", true);
    if (encoded.length > 2 * MAX_PARAM_LENGTH || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw bad;
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 1) throw bad;
    const clientId = formDecode(decoded.slice(0, colon));
    const raw = decoded.slice(colon + 1);
    const secret = formDecode(raw);
    if (form.has("client_id") && form.get("client_id") !== clientId) throw invalidRequest("client_id does not match");
    return { clientId, secret, viaHeader: true, ...(secret === raw ? {} : { rawSecret: raw }) };
  }
  const clientId = form.get("client_id");
  const secret = form.get("client_secret");
  if (secret === undefined) return undefined;
  if (clientId === undefined) throw new OAuthError("invalid_client", "client_id is required");
  return { clientId, secret, viaHeader: false };
}

function requireClient(creds: ClientCredentials | undefined): ClientCredentials {
  // Without credentials the answer is a challenge to authenticate by the header.
  if (creds === undefined) throw new OAuthError("invalid_client", "client authentication required", true);
  return creds;
}

/** The secrets to try: RFC 6749's decoding first, then the header's value as sent (clients differ). */
function secretsOf(creds: ClientCredentials): string[] {
  return creds.rawSecret === undefined ? [creds.secret] : [creds.secret, creds.rawSecret];
}

/** `scope` as RFC 6749 section 3.3 spells it: tokens separated by single spaces. */
function scopeList(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  const items = scope.split(" ");
  if (items.length > fields.MAX_SCOPE_ENTRIES || items.some((s) => s.length === 0)) {
    throw new OAuthError("invalid_scope", "scope must be scope tokens separated by single spaces");
  }
  return items;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** Maps what the services answer to an RFC 6749 error; outages stay outages. */
function oauthErrorOf(err: unknown, kind: "client" | "refresh", creds?: ClientCredentials): OAuthError {
  if (err instanceof OAuthError) return err;
  const e = AppError.from(err);
  const data = typeof e.data === "string" ? e.data : "";
  switch (e.code) {
    case "rpc.unavailable":
    case "rpc.too_many_requests":
      return new OAuthError("temporarily_unavailable");
    case "auth.invalid_credentials":
    case "auth.unauthorized":
    case "apikey.not_found":
      return new OAuthError("invalid_client", "client authentication failed", creds?.viaHeader === true);
    case "auth.insufficient_scope":
      return new OAuthError("invalid_scope", "scope exceeds what the client may be granted");
    case "auth.token_invalid":
    case "auth.token_expired":
      return new OAuthError("invalid_grant", "refresh token invalid, expired or revoked");
    case "rpc.invalid_params":
      if (data.startsWith("scope")) return new OAuthError("invalid_scope", data);
      if (kind === "client") {
        return new OAuthError("invalid_client", "client authentication failed", creds?.viaHeader === true);
      }
      return new OAuthError("invalid_grant", "refresh token invalid, expired or revoked");
    default:
      return new OAuthError("server_error");
  }
}

function statusOf(e: OAuthError): number {
  if (e.error === "invalid_client") return 401;
  if (e.error === "temporarily_unavailable") return 503;
  if (e.error === "too_many_requests") return 429;
  if (e.error === "server_error") return 500;
  return 400;
}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header("cache-control", "no-store").header("pragma", "no-cache");
}

function sendError(reply: FastifyReply, e: OAuthError): FastifyReply {
  noStore(reply).code(statusOf(e));
  if (e.challenge) reply.header("www-authenticate", 'Basic realm="pkiserver", charset="UTF-8"');
  if (e.error === "temporarily_unavailable") reply.header("retry-after", String(UNAVAILABLE_RETRY_AFTER_S));
  if (e.retryAfterSeconds !== undefined) reply.header("retry-after", String(e.retryAfterSeconds));
  const body = { error: e.error, ...(e.description === undefined ? {} : { error_description: e.description }) };
  return reply.type("application/json").send(JSON.stringify(body));
}

function sendJson(reply: FastifyReply, body: unknown): FastifyReply {
  return noStore(reply).type("application/json").send(JSON.stringify(body));
}

/** The OAuth endpoints and discovery documents, on the gateway's fastify instance. */
export function registerOAuthRoutes(app: FastifyInstance, deps: OAuthRouteDeps): void {
  const { auth, apikey, revocations, identity, logger } = deps;
  const base = identity.issuer.replace(/\/+$/, "");
  /** Refuses a client address over the `auth` tier's rate before anything is parsed or checked. */
  const limited = async (
    req: FastifyRequest,
    reply: FastifyReply,
    endpoint: string,
  ): Promise<FastifyReply | undefined> => {
    const decision = await deps.rateLimiter.take("auth", { kind: "ip", id: deps.clientIpOf(req) });
    if (decision === undefined || decision.allowed) return undefined;
    log(req, endpoint, "too_many_requests");
    return sendError(
      reply,
      new OAuthError("too_many_requests", "too many requests", false, decision.retryAfterSeconds),
    );
  };

  const log = (req: FastifyRequest, endpoint: string, outcome: string) =>
    logger.info({ requestId: req.id, endpoint, outcome }, "oauth request");

  const handle =
    (
      endpoint: string,
      kind: "client" | "refresh" | "other",
      run: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>,
    ) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const sent = await run(req, reply);
        log(req, endpoint, "ok");
        return sent;
      } catch (err) {
        const e = oauthErrorOf(err, kind === "refresh" ? "refresh" : "client", undefined);
        if (e.error === "server_error") {
          logger.error({ requestId: req.id, endpoint, err: AppError.from(err).internal }, "oauth request failed");
        } else {
          log(req, endpoint, e.error);
        }
        return sendError(reply, e);
      }
    };

  /**
   * Checks a client's secret with apikey, as Basic credentials on /main are
   * checked (apikey records a refusal in the audit log with its verdict).
   */
  const authenticate = async (creds: ClientCredentials, req: FastifyRequest): Promise<string> => {
    const attempt = {
      method: creds.viaHeader ? "client_secret_basic" : "client_secret_post",
      clientIp: deps.clientIpOf(req),
    };
    for (const secret of secretsOf(creds)) {
      if (creds.clientId.length > 128 || secret.length < 1 || secret.length > 256) break;
      let key: apikeyV1.ApiKey | undefined;
      try {
        key = (await apikey.verifySecret({ apiKeyId: creds.clientId, secret, attempt }, { requestId: req.id })).apiKey;
      } catch (err) {
        const e = AppError.from(err);
        if (e.code === "rpc.internal" || e.code === "rpc.unavailable") throw e;
        continue;
      }
      // A key with a public key signs; its having a secret is no way in (as on /main).
      const secretKey = key?.type !== apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY && key?.clientPublicKey === undefined;
      if (key?.enabled && secretKey) return key.apiKeyId;
    }
    throw new OAuthError("invalid_client", "client authentication failed", creds.viaHeader);
  };

  /** A call made for the authenticated client: auth acts for that key only. */
  const clientCall = (requestId: string, clientId: string) => ({
    requestId,
    callerKeyId: clientId,
    caller: { apiKeyId: clientId, scopes: [] },
  });

  const tokenReply = (reply: FastifyReply, t: authV1.TokenPair | undefined) => {
    if (t === undefined) throw new AppError("rpc.internal", { internal: "IssueToken reply without token" });
    // This gateway served the grant: older access tokens of a rotated session stop here at once.
    revocations.rotateSession(t.sessionId, t.generation, {
      apiKeyId: t.apiKeyId,
      accessLifetimeMs: t.accessTokenExpiresIn,
    });
    return sendJson(reply, {
      access_token: t.accessToken,
      token_type: "Bearer",
      expires_in: seconds(t.accessTokenExpiresIn),
      refresh_token: t.refreshToken,
      refresh_token_expires_in: seconds(t.refreshTokenExpiresIn),
      scope: t.scope.join(" "),
      ...(t.sessionName !== undefined && t.sessionName !== "" ? { session_name: t.sessionName } : {}),
    });
  };

  app.post(OAUTH_PATHS.token, async (req, reply) => {
    const refused = await limited(req, reply, "token");
    if (refused) return refused;
    let form: Map<string, string>;
    let creds: ClientCredentials | undefined;
    try {
      form = parseForm(req);
      creds = clientCredentials(req, form);
    } catch (err) {
      log(req, "token", err instanceof OAuthError ? err.error : "error");
      return sendError(reply, oauthErrorOf(err, "client"));
    }
    const grantType = form.get("grant_type");
    const clientIp = deps.clientIpOf(req);
    const call = { requestId: req.id };
    if (grantType === "client_credentials") {
      return handle("token", "client", async () => {
        const client = requireClient(creds);
        const scope = scopeList(form.get("scope"));
        let last: unknown;
        for (const clientSecret of secretsOf(client)) {
          try {
            const res = await auth.issueToken(
              {
                grant: { $case: "clientCredentials", value: { clientId: client.clientId, clientSecret, scope } },
                clientIp,
              },
              call,
            );
            return tokenReply(reply, res.token);
          } catch (err) {
            last = err;
            if (oauthErrorOf(err, "client", client).error !== "invalid_client") throw err;
          }
        }
        throw oauthErrorOf(last, "client", client);
      })(req, reply);
    }
    if (grantType === "refresh_token") {
      return handle("token", "refresh", async () => {
        const refreshToken = form.get("refresh_token");
        if (refreshToken === undefined) throw invalidRequest("refresh_token is required");
        // A client that authenticates may refresh only its own sessions; one that does not is
        // held to auth/token's rules (the refresh token alone).
        const clientId = creds === undefined ? undefined : await authenticate(creds, req);
        if (form.has("scope")) {
          // Narrowing on refresh is not offered; asking for the session's own scope is fine.
          throw new OAuthError("invalid_scope", "scope cannot change on refresh");
        }
        const res = await auth.issueToken(
          {
            grant: { $case: "refreshToken", value: { refreshToken, ...(clientId === undefined ? {} : { clientId }) } },
            clientIp,
          },
          call,
        );
        return tokenReply(reply, res.token);
      })(req, reply);
    }
    log(req, "token", grantType === undefined ? "invalid_request" : "unsupported_grant_type");
    return sendError(
      reply,
      grantType === undefined
        ? invalidRequest("grant_type is required")
        : new OAuthError("unsupported_grant_type", "grant_type must be client_credentials or refresh_token"),
    );
  });

  /** A client endpoint: limited per IP before anything is parsed or checked. */
  const rateLimited =
    (endpoint: string, next: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>) =>
    async (req: FastifyRequest, reply: FastifyReply) =>
      (await limited(req, reply, endpoint)) ?? next(req, reply);

  /** Form parsing, client authentication and the `token` parameter shared by introspection and revocation. */
  const clientRequest = async (req: FastifyRequest) => {
    const form = parseForm(req);
    const clientId = await authenticate(requireClient(clientCredentials(req, form)), req);
    const token = form.get("token");
    if (token === undefined) throw invalidRequest("token is required");
    return { clientId, token };
  };

  app.post(
    OAUTH_PATHS.introspect,
    rateLimited(
      "introspect",
      handle("introspect", "other", async (req, reply) => {
        const { clientId, token } = await clientRequest(req);
        const res = await auth.inspectToken({ token }, clientCall(req.id, clientId));
        const c = res.claims;
        if (!res.active || c === undefined) return sendJson(reply, { active: false });
        const access = res.tokenType === "access_token";
        return sendJson(reply, {
          active: true,
          scope: c.scope.join(" "),
          client_id: c.apiKeyId,
          sub: c.apiKeyId,
          exp: Math.ceil(c.expiresAt / 1000),
          iat: seconds(c.issuedAt),
          // RFC 7662's token_type is the OAuth token type: "Bearer" for access tokens.
          token_type: access ? "Bearer" : "refresh_token",
          sid: c.sessionId,
          ...(access ? { iss: identity.issuer, aud: identity.audience } : {}),
        });
      }),
    ),
  );

  app.post(
    OAUTH_PATHS.revoke,
    rateLimited(
      "revoke",
      handle("revoke", "other", async (req, reply) => {
        const { clientId, token } = await clientRequest(req);
        const res = await auth.revokeToken({ token }, clientCall(req.id, clientId));
        // The event brings the revocation to every gateway; this one applies it before replying.
        if (res.revoked !== undefined) {
          revocations.revokeSession(res.revoked.sessionId, {
            apiKeyId: res.revoked.apiKeyId,
            tokensExpireAt: res.revoked.tokensExpireAt,
          });
        }
        // RFC 7009 section 2.2: the same answer whether or not there was anything to revoke.
        return noStore(reply).code(200).send();
      }),
    ),
  );

  app.get(
    OAUTH_PATHS.jwks,
    handle("jwks", "other", async (req, reply) => {
      const { keys } = await auth.getSigningKeys({}, { requestId: req.id });
      const now = Date.now();
      const jwks = keys.flatMap((k) => {
        if (k.verifyUntil > 0 && k.verifyUntil <= now) return [];
        try {
          importPublicJwk(k.publicJwk);
          const { x } = JSON.parse(k.publicJwk) as { x: string };
          return [{ kty: "OKP", crv: "Ed25519", x, kid: k.kid, alg: "EdDSA", use: "sig" }];
        } catch {
          return [];
        }
      });
      return reply
        .header("cache-control", `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`)
        .type("application/json")
        .send(JSON.stringify({ keys: jwks }));
    }),
  );

  const metadata = JSON.stringify({
    issuer: identity.issuer,
    token_endpoint: `${base}${OAUTH_PATHS.token}`,
    jwks_uri: `${base}${OAUTH_PATHS.jwks}`,
    introspection_endpoint: `${base}${OAUTH_PATHS.introspect}`,
    revocation_endpoint: `${base}${OAUTH_PATHS.revoke}`,
    grant_types_supported: ["client_credentials", "refresh_token"],
    // No authorization endpoint: no response type is offered.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    scopes_supported: [...ALL_SCOPES],
  });
  app.get(OAUTH_PATHS.metadata, async (_req, reply) =>
    reply
      .header("cache-control", `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`)
      .type("application/json")
      .send(metadata),
  );
}
