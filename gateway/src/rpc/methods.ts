import { AppError, type CallOptions, type Scope } from "@pkiserver/kit";
import { apikeyV1, type authV1, type pkiV1 } from "@pkiserver/proto";
import type { Caller } from "../auth/authenticate";
import type { RevocationCache } from "../auth/revocations";
import type { ServiceClients } from "../clients";
import {
  array,
  boolean,
  type Infer,
  integer,
  json,
  literal,
  object,
  oneOf,
  optional,
  pubKey,
  refine,
  type Schema,
  string,
} from "./schema";

/** What a method handler gets besides its params. */
export interface MethodContext {
  readonly clients: ServiceClients;
  readonly revocations: RevocationCache;
  /** Set for every method that needs credentials (and absent for auth/*, or public pki reads). */
  readonly caller: Caller | undefined;
  readonly clientIp: string;
  /** requestId and callerKeyId for the gRPC metadata. */
  readonly call: CallOptions;
  /** Binds an access token to the WebSocket connection; absent over HTTP. */
  readonly bindToken: ((token: string) => Promise<void>) | undefined;
}

export interface MethodDef<P = unknown> {
  readonly name: string;
  /** Scope the caller must hold; null for methods that need no credentials (auth/*). */
  readonly scope: Scope | null;
  readonly websocketOnly: boolean;
  readonly params: Schema<P> & { hasRequired?: boolean };
  handle(params: P, ctx: MethodContext): Promise<unknown>;
}

function method<S extends Schema<unknown>>(
  name: string,
  scope: Scope | null,
  params: S,
  handle: (params: Infer<S>, ctx: MethodContext) => Promise<unknown>,
  opts: { websocketOnly?: boolean } = {},
): MethodDef {
  return {
    name,
    scope,
    websocketOnly: opts.websocketOnly ?? false,
    params: params as Schema<unknown>,
    handle: handle as (params: unknown, ctx: MethodContext) => Promise<unknown>,
  };
}

/** A reply field the service must send; its absence is a broken contract, not the caller's fault. */
function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new AppError("rpc.internal", { internal: `service reply without ${what}` });
  return value;
}

function callerOf(ctx: MethodContext): Caller {
  return present(ctx.caller, "authenticated caller");
}

// Field shapes of the method reference (seed 001), lengths inclusive.
const userId = string(3, 128);
const contextId = string(3, 128);
const hostUrl = string(3, 2048);
const apiKeyId = string(3, 128);
const name = string(0, 128);
// Scope entries are short words or modifiers; the bound only keeps input finite.
const scopeList = array(string(0, 256), 0, 128);
const keyRef = { userId, instanceId: pubKey(), contextId };
const customDataMaxBytes = 4096;

function tokenResult(token: authV1.TokenPair | undefined, ctx: MethodContext) {
  const t = present(token, "token");
  // This gateway served the rotation: older access tokens of the session stop here at once.
  ctx.revocations.rotateSession(t.sessionId, t.generation, {
    apiKeyId: t.apiKeyId,
    accessLifetimeMs: t.accessTokenExpiresIn,
  });
  return {
    accessToken: t.accessToken,
    accessTokenExpiresIn: t.accessTokenExpiresIn,
    refreshToken: t.refreshToken,
    refreshTokenExpiresIn: t.refreshTokenExpiresIn,
    tokenType: "Bearer",
    scope: t.scope,
    ...(t.sessionName !== undefined && t.sessionName !== "" ? { sessionName: t.sessionName } : {}),
  };
}

function apiKeyView(k: apikeyV1.ApiKey) {
  return {
    apiKeyId: k.apiKeyId,
    name: k.name,
    enabled: k.enabled,
    maxScope: k.maxScope,
    ...(k.clientPublicKey !== undefined ? { clientPublicKey: k.clientPublicKey } : {}),
    createDate: k.createDate,
  };
}

function hostView(h: pkiV1.Host) {
  return { instanceId: h.instanceId, hostPubKey: h.hostPubKey, addresses: h.addresses };
}

function recordView(r: pkiV1.KeyRecord) {
  let customData: unknown;
  if (r.customDataJson !== undefined) {
    try {
      customData = JSON.parse(r.customDataJson);
    } catch (err) {
      throw new AppError("rpc.internal", { internal: "stored customData is not JSON", cause: err });
    }
  }
  return {
    userId: r.userId,
    instanceId: r.instanceId,
    contextId: r.contextId,
    ...(r.userPubKey !== undefined ? { userPubKey: r.userPubKey } : {}),
    createDate: r.createDate,
    ...(customData !== undefined ? { customData } : {}),
  };
}

const OK = "OK";

const definitions: MethodDef[] = [
  // auth/: no credentials.
  method("auth/createFirstApiKey", null, object({ initializationToken: string(1, 1024), name }), async (p, ctx) => {
    const res = await ctx.clients.apikey.createFirstApiKey(p, ctx.call);
    return { apiKeyId: res.apiKeyId, apiKeySecret: res.apiKeySecret };
  }),
  method(
    "auth/token",
    null,
    oneOf("grantType", {
      client_credentials: object({
        grantType: literal("client_credentials"),
        clientId: string(3, 128),
        clientSecret: string(32, 256),
        scope: scopeList,
      }),
      refresh_token: object({ grantType: literal("refresh_token"), refreshToken: string(0, 1024) }),
      client_signature: object({
        grantType: literal("client_signature"),
        clientId: string(3, 128),
        signature: string(0, 4096),
        timestamp: integer(),
        nonce: string(0, 64),
        scope: scopeList,
        data: optional(string(0, 512)),
      }),
    }),
    async (p, ctx) => {
      let req: authV1.IssueTokenRequest;
      if (p.grantType === "client_credentials") {
        req = {
          grant: {
            $case: "clientCredentials",
            value: { clientId: p.clientId, clientSecret: p.clientSecret, scope: p.scope },
          },
          clientIp: ctx.clientIp,
        };
      } else if (p.grantType === "client_signature") {
        req = {
          grant: {
            $case: "clientSignature",
            value: {
              clientId: p.clientId,
              signature: p.signature,
              timestamp: p.timestamp,
              nonce: p.nonce,
              scope: p.scope,
              ...(p.data !== undefined ? { data: p.data } : {}),
            },
          },
          clientIp: ctx.clientIp,
        };
      } else {
        req = { grant: { $case: "refreshToken", value: { refreshToken: p.refreshToken } }, clientIp: ctx.clientIp };
      }
      return tokenResult((await ctx.clients.auth.issueToken(req, ctx.call)).token, ctx);
    },
  ),
  method(
    "auth/forkToken",
    null,
    object({ refreshToken: string(0, 1024), sessionName: string(0, 128) }),
    async (p, ctx) => {
      const res = await ctx.clients.auth.forkToken(
        { refreshToken: p.refreshToken, sessionName: p.sessionName, clientIp: ctx.clientIp },
        ctx.call,
      );
      return tokenResult(res.token, ctx);
    },
  ),
  method(
    "auth/bindAccessToken",
    null,
    object({ accessToken: string(0, 1024) }),
    async (p, ctx) => {
      await present(ctx.bindToken, "connection to bind to")(p.accessToken);
      return OK;
    },
    { websocketOnly: true },
  ),

  // user/: API keys.
  method(
    "user/addApiKey",
    "user:write",
    oneOf("type", {
      secret: object({ type: literal("secret"), name, clientSecret: string(32, 256), maxScope: scopeList }),
      pubKey: object({ type: literal("pubKey"), name, clientPubKey: string(1, 4096), maxScope: scopeList }),
    }),
    async (p, ctx) => {
      const callerScope = callerOf(ctx).scopes;
      const req: apikeyV1.AddApiKeyRequest =
        p.type === "secret"
          ? {
              name: p.name,
              type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
              clientSecret: p.clientSecret,
              maxScope: p.maxScope,
              callerScope,
            }
          : {
              name: p.name,
              type: apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY,
              clientPublicKey: p.clientPubKey,
              maxScope: p.maxScope,
              callerScope,
            };
      const res = await ctx.clients.apikey.addApiKey(req, ctx.call);
      return { apiKeyId: res.apiKeyId };
    },
  ),
  method("user/getApiKey", "user:read", object({ apiKeyId }), async (p, ctx) => {
    const res = await ctx.clients.apikey.getApiKey({ apiKeyId: p.apiKeyId }, ctx.call);
    return { apiKey: apiKeyView(present(res.apiKey, "apiKey")) };
  }),
  method("user/listApiKeys", "user:read", object({}), async (_p, ctx) => {
    const res = await ctx.clients.apikey.listApiKeys({}, ctx.call);
    return { list: res.apiKeys.map(apiKeyView) };
  }),
  method(
    "user/updateApiKey",
    "user:write",
    object({ apiKeyId, name: optional(name), enabled: optional(boolean()), maxScope: optional(scopeList) }),
    async (p, ctx) => {
      const res = await ctx.clients.apikey.updateApiKey(
        {
          apiKeyId: p.apiKeyId,
          ...(p.name !== undefined ? { name: p.name } : {}),
          ...(p.enabled !== undefined ? { enabled: p.enabled } : {}),
          ...(p.maxScope !== undefined ? { maxScope: { scopes: p.maxScope } } : {}),
          callerScope: callerOf(ctx).scopes,
        },
        ctx.call,
      );
      const key = present(res.apiKey, "apiKey");
      // The change takes effect here before the reply; the event brings it to the other replicas.
      ctx.revocations.applyKeyChange({
        apiKeyId: key.apiKeyId,
        at: Date.now(),
        deleted: false,
        enabled: key.enabled,
        maxScope: key.maxScope,
      });
      return OK;
    },
  ),
  method("user/deleteApiKey", "user:write", object({ apiKeyId }), async (p, ctx) => {
    await ctx.clients.apikey.deleteApiKey({ apiKeyId: p.apiKeyId }, ctx.call);
    ctx.revocations.applyKeyChange({
      apiKeyId: p.apiKeyId,
      at: Date.now(),
      deleted: true,
      enabled: false,
      maxScope: [],
    });
    return OK;
  }),

  // pkiAdmin/: hosts and user keys.
  method("pkiAdmin/setHost", "pkiadmin:write", object({ hostPubKey: pubKey(), hostUrl }), async (p, ctx) => {
    const res = await ctx.clients.pki.setHost({ hostPubKey: p.hostPubKey, hostUrl: p.hostUrl }, ctx.call);
    return res.instanceId;
  }),
  method("pkiAdmin/addHostUrl", "pkiadmin:write", object({ instanceId: pubKey(), hostUrl }), async (p, ctx) => {
    await ctx.clients.pki.addHostUrl({ instanceId: p.instanceId, hostUrl: p.hostUrl }, ctx.call);
    return OK;
  }),
  method("pkiAdmin/removeHostUrl", "pkiadmin:write", object({ instanceId: pubKey(), hostUrl }), async (p, ctx) => {
    await ctx.clients.pki.removeHostUrl({ instanceId: p.instanceId, hostUrl: p.hostUrl }, ctx.call);
    return OK;
  }),
  method("pkiAdmin/deleteHost", "pkiadmin:write", object({ instanceId: pubKey() }), async (p, ctx) => {
    await ctx.clients.pki.deleteHost({ instanceId: p.instanceId }, ctx.call);
    return OK;
  }),
  method("pkiAdmin/listHosts", "pkiadmin:read", object({}), async (_p, ctx) => {
    const res = await ctx.clients.pki.listHosts({}, ctx.call);
    return res.hosts.map(hostView);
  }),
  method(
    "pkiAdmin/setKey",
    "pkiadmin:write",
    object({ ...keyRef, userPubKey: pubKey(), customData: optional(json(customDataMaxBytes)) }),
    async (p, ctx) => {
      await ctx.clients.pki.setKey(
        {
          ref: { userId: p.userId, instanceId: p.instanceId, contextId: p.contextId },
          userPubKey: p.userPubKey,
          ...(p.customData !== undefined ? { customDataJson: p.customData } : {}),
        },
        ctx.call,
      );
      return OK;
    },
  ),
  method("pkiAdmin/deleteKey", "pkiadmin:write", object(keyRef), async (p, ctx) => {
    await ctx.clients.pki.deleteKey({ ref: p }, ctx.call);
    return OK;
  }),

  // pki/: reads.
  method("pki/getCurrentKey", "pki:read", object(keyRef), async (p, ctx) => {
    const res = await ctx.clients.pki.getCurrentKey({ ref: p }, ctx.call);
    return recordView(present(res.record, "record"));
  }),
  method("pki/getKeyAt", "pki:read", object({ ...keyRef, date: integer() }), async (p, ctx) => {
    const res = await ctx.clients.pki.getKeyAt(
      { ref: { userId: p.userId, instanceId: p.instanceId, contextId: p.contextId }, date: p.date },
      ctx.call,
    );
    return recordView(present(res.record, "record"));
  }),
  method("pki/getKeyHistory", "pki:read", object(keyRef), async (p, ctx) => {
    const res = await ctx.clients.pki.getKeyHistory({ ref: p }, ctx.call);
    return res.records.map(recordView);
  }),
  method("pki/verifyKey", "pki:read", object({ ...keyRef, userPubKey: pubKey(), date: integer() }), async (p, ctx) => {
    const res = await ctx.clients.pki.verifyKey(
      {
        ref: { userId: p.userId, instanceId: p.instanceId, contextId: p.contextId },
        userPubKey: p.userPubKey,
        date: p.date,
      },
      ctx.call,
    );
    return res.valid;
  }),
  method(
    "pki/getHost",
    "pki:read",
    refine(object({ instanceId: optional(pubKey()), hostUrl: optional(hostUrl) }), (p) =>
      p.instanceId === undefined && p.hostUrl === undefined
        ? "Expected at least one of 'instanceId', 'hostUrl'"
        : undefined,
    ),
    async (p, ctx) => {
      const res = await ctx.clients.pki.getHost(
        {
          ...(p.instanceId !== undefined ? { instanceId: p.instanceId } : {}),
          ...(p.hostUrl !== undefined ? { hostUrl: p.hostUrl } : {}),
        },
        ctx.call,
      );
      return hostView(present(res.host, "host"));
    },
  ),
  method("pki/verifyHostById", "pki:read", object({ instanceId: pubKey(), hostUrl }), async (p, ctx) => {
    const res = await ctx.clients.pki.verifyHostById({ instanceId: p.instanceId, hostUrl: p.hostUrl }, ctx.call);
    return res.valid;
  }),
  method("pki/verifyHostByPub", "pki:read", object({ hostPubKey: pubKey(), hostUrl }), async (p, ctx) => {
    const res = await ctx.clients.pki.verifyHostByPub({ hostPubKey: p.hostPubKey, hostUrl: p.hostUrl }, ctx.call);
    return res.valid;
  }),
];

/** The method table, by the names of the method reference. */
export const METHODS: ReadonlyMap<string, MethodDef> = new Map(definitions.map((d) => [d.name, d]));

/** Every public method name (the `pkiadmin/` spellings are aliases of these). */
export const METHOD_NAMES: readonly string[] = definitions.map((d) => d.name);

/** The table entry for a requested name, accepting `pkiadmin/` for `pkiAdmin/`. */
export function lookupMethod(name: string): MethodDef | undefined {
  const canonical = name.startsWith("pkiadmin/") ? `pkiAdmin/${name.slice("pkiadmin/".length)}` : name;
  return METHODS.get(canonical);
}
