import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  canonicalMethodName,
  METHOD_NAMES,
  METHOD_SPECS,
  type MethodName,
  object,
  openRpcDocument,
  type ParamsOf,
  type RevocationCache,
  type Schema,
} from "@pkiserver/contract";
import { AppError, assertScopesWithin, type CallOptions, type Scope } from "@pkiserver/kit";
import { apikeyV1, type auditV1, type authV1, type pkiV1 } from "@pkiserver/proto";
import type { Caller } from "../auth/authenticate";
import { type KeyLimits, keyLimitsOf } from "../auth/key-limits";
import type { ServiceClients } from "../clients";
import { TIERS, type TierLimits } from "../http/rate-limit";

/** What a method handler gets besides its params. */
export interface MethodContext {
  readonly clients: ServiceClients;
  readonly revocations: RevocationCache;
  /** Set for every method that needs credentials (and absent for auth/*, or public pki reads). */
  readonly caller: Caller | undefined;
  readonly clientIp: string;
  /** requestId and the caller, for the gRPC call (the service checks the caller's scope itself). */
  readonly call: CallOptions;
  /** Binds an access token to the WebSocket connection; absent over HTTP. */
  readonly bindToken: ((token: string) => Promise<void>) | undefined;
  /** The gateway's default requests per minute by tier, for a key's effective limits. */
  readonly tierLimits: TierLimits;
  /** Told of a key's new own limits, so they apply here before the reply. */
  readonly keyLimitsChanged?: ((apiKeyId: string, limits: KeyLimits) => void) | undefined;
}

export interface MethodDef<P = unknown> {
  readonly name: string;
  /** Scope the caller must hold; null for methods that need no credentials (auth/*). */
  readonly scope: Scope | null;
  readonly websocketOnly: boolean;
  readonly params: Schema<P> & { hasRequired?: boolean };
  handle(params: P, ctx: MethodContext): Promise<unknown>;
}

/** A reply field the service must send; its absence is a broken contract, not the caller's fault. */
function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new AppError("rpc.internal", { internal: `service reply without ${what}` });
  return value;
}

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

/** A key's effective limits: its own where it has one, else the tier's default (0: none). */
function effectiveLimits(own: apikeyV1.RateLimits | undefined, defaults: TierLimits): TierLimits {
  const out = { ...defaults };
  for (const tier of TIERS) {
    const v = own?.[tier];
    if (v !== undefined && v > 0) out[tier] = v;
  }
  return out;
}

function apiKeyView(k: apikeyV1.ApiKey, defaults: TierLimits) {
  return {
    apiKeyId: k.apiKeyId,
    name: k.name,
    enabled: k.enabled,
    maxScope: k.maxScope,
    ...(k.clientPublicKey !== undefined ? { clientPublicKey: k.clientPublicKey } : {}),
    createDate: k.createDate,
    ...(k.previousCredentialExpiresAt !== undefined
      ? { previousCredentialExpiresAt: k.previousCredentialExpiresAt }
      : {}),
    rateLimits: effectiveLimits(k.rateLimits, defaults),
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

function sessionView(s: authV1.Session) {
  return {
    sessionId: s.sessionId,
    apiKeyId: s.apiKeyId,
    ...(s.name !== undefined && s.name !== "" ? { name: s.name } : {}),
    scope: s.scope,
    ...(s.ipAddr !== undefined && s.ipAddr !== "" ? { ipAddr: s.ipAddr } : {}),
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
  };
}

/** An audit event as API.md section 12 shows it. */
export function auditEventView(e: auditV1.AuditEvent) {
  const actor = e.actor ?? {};
  return {
    id: e.id,
    time: e.time,
    type: e.type,
    outcome: e.outcome,
    actor: {
      ...(actor.apiKeyId !== undefined ? { apiKeyId: actor.apiKeyId } : {}),
      ...(actor.sessionId !== undefined ? { sessionId: actor.sessionId } : {}),
      ...(actor.ip !== undefined ? { ip: actor.ip } : {}),
    },
    target: e.target,
    ...(e.requestId !== undefined ? { requestId: e.requestId } : {}),
    details: JSON.parse(e.detailsJson || "{}") as Record<string, unknown>,
  };
}

const b64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

function entryProofView(p: pkiV1.LogEntryProof) {
  return { leafIndex: p.leafIndex, entry: b64(p.entry), hashes: p.hashes.map(b64) };
}

/**
 * The gateway's half of each method: its gRPC call and result mapping. Who
 * may call it and its params come from the contract (METHOD_SPECS); a method
 * the contract lists without a handler here does not compile.
 */
const handlers: { [N in MethodName]: (params: ParamsOf<N>, ctx: MethodContext) => Promise<unknown> } = {
  "auth/createFirstApiKey": async (p, ctx) => {
    const res = await ctx.clients.apikey.createFirstApiKey(p, ctx.call);
    return { apiKeyId: res.apiKeyId, apiKeySecret: res.apiKeySecret };
  },
  "auth/token": async (p, ctx) => {
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
  "auth/forkToken": async (p, ctx) => {
    const res = await ctx.clients.auth.forkToken(
      { refreshToken: p.refreshToken, sessionName: p.sessionName, clientIp: ctx.clientIp },
      ctx.call,
    );
    return tokenResult(res.token, ctx);
  },
  "auth/bindAccessToken": async (p, ctx) => {
    await present(ctx.bindToken, "connection to bind to")(p.accessToken);
    return OK;
  },
  "user/addApiKey": async (p, ctx) => {
    const req: apikeyV1.AddApiKeyRequest =
      p.type === "secret"
        ? {
            name: p.name,
            type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
            clientSecret: p.clientSecret,
            maxScope: p.maxScope,
            ...(p.rateLimits !== undefined ? { rateLimits: p.rateLimits } : {}),
          }
        : {
            name: p.name,
            type: apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY,
            clientPublicKey: p.clientPubKey,
            maxScope: p.maxScope,
            ...(p.rateLimits !== undefined ? { rateLimits: p.rateLimits } : {}),
          };
    const res = await ctx.clients.apikey.addApiKey(req, ctx.call);
    return { apiKeyId: res.apiKeyId };
  },
  "user/getApiKey": async (p, ctx) => {
    const res = await ctx.clients.apikey.getApiKey({ apiKeyId: p.apiKeyId }, ctx.call);
    return { apiKey: apiKeyView(present(res.apiKey, "apiKey"), ctx.tierLimits) };
  },
  "user/listApiKeys": async (_p, ctx) => {
    const res = await ctx.clients.apikey.listApiKeys({}, ctx.call);
    return { list: res.apiKeys.map((k) => apiKeyView(k, ctx.tierLimits)) };
  },
  "user/updateApiKey": async (p, ctx) => {
    const res = await ctx.clients.apikey.updateApiKey(
      {
        apiKeyId: p.apiKeyId,
        ...(p.name !== undefined ? { name: p.name } : {}),
        ...(p.enabled !== undefined ? { enabled: p.enabled } : {}),
        ...(p.maxScope !== undefined ? { maxScope: { scopes: p.maxScope } } : {}),
        ...(p.rateLimits !== undefined ? { rateLimits: p.rateLimits } : {}),
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
    ctx.keyLimitsChanged?.(key.apiKeyId, keyLimitsOf(key.rateLimits));
    return OK;
  },
  "user/rotateApiKey": async (p, ctx) => {
    const res = await ctx.clients.apikey.rotateApiKey(
      {
        apiKeyId: p.apiKeyId,
        ...(p.clientSecret !== undefined ? { clientSecret: p.clientSecret } : {}),
        ...(p.clientPubKey !== undefined ? { clientPublicKey: p.clientPubKey } : {}),
        ...(p.gracePeriod !== undefined ? { gracePeriod: p.gracePeriod } : {}),
      },
      ctx.call,
    );
    return {
      apiKeyId: res.apiKeyId,
      previousCredentialExpiresAt: res.previousCredentialExpiresAt,
      ...(res.clientSecret !== undefined ? { clientSecret: res.clientSecret } : {}),
    };
  },
  "user/deleteApiKey": async (p, ctx) => {
    await ctx.clients.apikey.deleteApiKey({ apiKeyId: p.apiKeyId }, ctx.call);
    ctx.revocations.applyKeyChange({
      apiKeyId: p.apiKeyId,
      at: Date.now(),
      deleted: true,
      enabled: false,
      maxScope: [],
    });
    return OK;
  },
  "user/listSessions": async (p, ctx) => {
    // An unknown key is 71, as for the other user/* methods, not an empty list.
    await ctx.clients.apikey.getApiKey({ apiKeyId: p.apiKeyId }, ctx.call);
    const res = await ctx.clients.auth.listSessions({ apiKeyId: p.apiKeyId }, ctx.call);
    return { list: res.sessions.map(sessionView) };
  },
  "user/revokeSession": async (p, ctx) => {
    const key = present((await ctx.clients.apikey.getApiKey({ apiKeyId: p.apiKeyId }, ctx.call)).apiKey, "apiKey");
    // As for managing a key: a caller may end only sessions of a key no more powerful than itself.
    assertScopesWithin(key.maxScope, present(ctx.caller, "authenticated caller").scopes);
    const { sessions } = await ctx.clients.auth.listSessions({ apiKeyId: p.apiKeyId }, ctx.call);
    if (!sessions.some((s) => s.sessionId === p.sessionId)) throw new AppError("auth.session_not_found");
    await ctx.clients.auth.revokeSession({ sessionId: p.sessionId }, ctx.call);
    // Refused here before the reply; the event brings the revocation to the other replicas.
    ctx.revocations.revokeSession(p.sessionId, { apiKeyId: p.apiKeyId });
    return OK;
  },
  "pkiAdmin/setHost": async (p, ctx) => {
    const res = await ctx.clients.pki.setHost({ hostPubKey: p.hostPubKey, hostUrl: p.hostUrl }, ctx.call);
    return res.instanceId;
  },
  "pkiAdmin/addHostUrl": async (p, ctx) => {
    await ctx.clients.pki.addHostUrl({ instanceId: p.instanceId, hostUrl: p.hostUrl }, ctx.call);
    return OK;
  },
  "pkiAdmin/removeHostUrl": async (p, ctx) => {
    await ctx.clients.pki.removeHostUrl({ instanceId: p.instanceId, hostUrl: p.hostUrl }, ctx.call);
    return OK;
  },
  "pkiAdmin/deleteHost": async (p, ctx) => {
    await ctx.clients.pki.deleteHost({ instanceId: p.instanceId }, ctx.call);
    return OK;
  },
  "pkiAdmin/listHosts": async (_p, ctx) => {
    const res = await ctx.clients.pki.listHosts({}, ctx.call);
    return res.hosts.map(hostView);
  },
  "pkiAdmin/setKey": async (p, ctx) => {
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
  "pkiAdmin/deleteKey": async (p, ctx) => {
    await ctx.clients.pki.deleteKey({ ref: p }, ctx.call);
    return OK;
  },
  "pki/getCurrentKey": async (p, ctx) => {
    const res = await ctx.clients.pki.getCurrentKey({ ref: p }, ctx.call);
    return recordView(present(res.record, "record"));
  },
  "pki/getKeyAt": async (p, ctx) => {
    const res = await ctx.clients.pki.getKeyAt(
      { ref: { userId: p.userId, instanceId: p.instanceId, contextId: p.contextId }, date: p.date },
      ctx.call,
    );
    return recordView(present(res.record, "record"));
  },
  "pki/getKeyHistory": async (p, ctx) => {
    const res = await ctx.clients.pki.getKeyHistory({ ref: p }, ctx.call);
    return res.records.map(recordView);
  },
  "pki/verifyKey": async (p, ctx) => {
    const res = await ctx.clients.pki.verifyKey(
      {
        ref: { userId: p.userId, instanceId: p.instanceId, contextId: p.contextId },
        userPubKey: p.userPubKey,
        date: p.date,
      },
      ctx.call,
    );
    return res.valid;
  },
  "pki/getHost": async (p, ctx) => {
    const res = await ctx.clients.pki.getHost(
      {
        ...(p.instanceId !== undefined ? { instanceId: p.instanceId } : {}),
        ...(p.hostUrl !== undefined ? { hostUrl: p.hostUrl } : {}),
      },
      ctx.call,
    );
    return hostView(present(res.host, "host"));
  },
  "pki/verifyHostById": async (p, ctx) => {
    const res = await ctx.clients.pki.verifyHostById({ instanceId: p.instanceId, hostUrl: p.hostUrl }, ctx.call);
    return res.valid;
  },
  "pki/verifyHostByPub": async (p, ctx) => {
    const res = await ctx.clients.pki.verifyHostByPub({ hostPubKey: p.hostPubKey, hostUrl: p.hostUrl }, ctx.call);
    return res.valid;
  },
  "audit/listEvents": async (p, ctx) => {
    const res = await ctx.clients.audit.listEvents(
      {
        ...(p.from !== undefined ? { from: p.from } : {}),
        ...(p.to !== undefined ? { to: p.to } : {}),
        types: p.types ?? [],
        ...(p.apiKeyId !== undefined ? { apiKeyId: p.apiKeyId } : {}),
        limit: p.limit ?? 0,
        ...(p.cursor !== undefined ? { cursor: p.cursor } : {}),
      },
      ctx.call,
    );
    return {
      events: res.events.map(auditEventView),
      ...(res.nextCursor !== undefined ? { nextCursor: res.nextCursor } : {}),
    };
  },
  "pki/getCheckpoint": async (_p, ctx) => {
    const res = await ctx.clients.pki.getCheckpoint({}, ctx.call);
    return {
      checkpoint: res.checkpoint,
      origin: res.origin,
      treeSize: res.treeSize,
      rootHash: b64(res.rootHash),
      headMapRoot: b64(res.headMapRoot),
      verifierKey: res.verifierKey,
    };
  },
  "pki/getInclusionProof": async (p, ctx) => {
    const res = await ctx.clients.pki.getInclusionProof({ leafIndex: p.leafIndex, treeSize: p.treeSize }, ctx.call);
    const proof = present(res.proof, "proof");
    return {
      leafIndex: proof.leafIndex,
      treeSize: res.treeSize,
      entry: b64(proof.entry),
      hashes: proof.hashes.map(b64),
    };
  },
  "pki/getConsistencyProof": async (p, ctx) => {
    const res = await ctx.clients.pki.getConsistencyProof({ fromSize: p.fromSize, toSize: p.toSize }, ctx.call);
    return { fromSize: res.fromSize, toSize: res.toSize, hashes: res.hashes.map(b64) };
  },
  "pki/getKeyProof": async (p, ctx) => {
    const res = await ctx.clients.pki.getKeyProof(
      { ref: { userId: p.userId, instanceId: p.instanceId, contextId: p.contextId }, date: p.date },
      ctx.call,
    );
    return {
      checkpoint: res.checkpoint,
      record: recordView(present(res.record, "record")),
      entry: entryProofView(present(res.entry, "entry")),
      ...(res.next ? { next: entryProofView(res.next) } : {}),
      ...(res.head ? { head: { bitmap: b64(res.head.bitmap), siblings: res.head.siblings.map(b64) } } : {}),
    };
  },
};

function definition<N extends MethodName>(name: N): MethodDef {
  const spec = METHOD_SPECS[name];
  return {
    name,
    scope: spec.scope,
    websocketOnly: "websocketOnly" in spec && spec.websocketOnly === true,
    params: spec.params as MethodDef["params"],
    handle: handlers[name] as MethodDef["handle"],
  };
}

/** The method table, by the names of the method reference. */
export const METHODS: ReadonlyMap<string, MethodDef> = new Map(METHOD_NAMES.map((n) => [n, definition(n)]));

/** Every public method name (the `pkiadmin/` spellings are aliases of these). */
export { METHOD_NAMES };

let discovery: Record<string, unknown> | undefined;

/** The OpenRPC document of this API (made once, from the contract's method table). */
export function openRpc(): Record<string, unknown> {
  if (discovery === undefined) {
    const pkg = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string };
    discovery = openRpcDocument({ version: pkg.version });
  }
  return discovery;
}

/** `rpc.discover` (OpenRPC service discovery): needs no credentials. */
const DISCOVER: MethodDef = {
  name: "rpc.discover",
  scope: null,
  websocketOnly: false,
  params: object({}) as MethodDef["params"],
  handle: async () => openRpc(),
};

/** The table entry for a requested name, accepting `pkiadmin/` for `pkiAdmin/`. */
export function lookupMethod(name: string): MethodDef | undefined {
  if (name === DISCOVER.name) return DISCOVER;
  const canonical = canonicalMethodName(name);
  return canonical === undefined ? undefined : METHODS.get(canonical);
}
