import type { ErrorCode, Scope } from "@pkiserver/kit/core";
import { AUDIT_CURSOR_MAX_LENGTH, AUDIT_EVENT_TYPES, AUDIT_LIST_MAX_LIMIT } from "./audit";
import {
  accessToken,
  apiKeyId,
  clientId,
  clientPubKey,
  clientSecret,
  customData,
  date,
  gracePeriod,
  grantData,
  hostUrl,
  initializationToken,
  keyRef,
  name,
  nonce,
  pubKey,
  rateLimits as rateLimitsField,
  refreshToken,
  scopeList,
  sessionId,
  sessionName,
  signature,
  timestamp,
} from "./fields";
import {
  array,
  boolean,
  type Infer,
  integer,
  type JsonSchema,
  literal,
  object,
  oneOf,
  optional,
  refine,
  type Schema,
  string,
} from "./schema";

/** What the contract says of one JSON-RPC method: who may call it and what its params are. */
export interface MethodSpec<P = unknown> {
  /** Scope the caller must hold; null for methods that need no credentials (auth/*). */
  readonly scope: Scope | null;
  readonly params: Schema<P> & { hasRequired?: boolean };
  /** Callable over WebSocket only. */
  readonly websocketOnly?: boolean;
  /** One line for the method's documentation. */
  readonly summary: string;
  /** What a successful call returns, for the OpenRPC document. */
  readonly result?: JsonSchema;
  /** The method's own errors (API.md section 6), besides those every method may answer. */
  readonly errors?: readonly ErrorCode[];
}

const spec = <P>(
  scope: Scope | null,
  params: Schema<P> & { hasRequired?: boolean },
  summary: string,
  extra: { websocketOnly?: boolean; result?: JsonSchema; errors?: readonly ErrorCode[] } = {},
): MethodSpec<P> => ({ scope, params, summary, ...extra });

// Result shapes (JSON Schema), for the OpenRPC document.
const str = { type: "string" };
const int = { type: "integer", minimum: 0 };
const OK = { type: "string", enum: ["OK"] };
const bool = { type: "boolean" };
const strings = { type: "array", items: str };
const obj = (properties: Record<string, JsonSchema>, optionalKeys: readonly string[] = []): JsonSchema => ({
  type: "object",
  properties,
  required: Object.keys(properties).filter((k) => !optionalKeys.includes(k)),
  additionalProperties: false,
});
const tokenPair = obj(
  {
    accessToken: str,
    accessTokenExpiresIn: int,
    refreshToken: str,
    refreshTokenExpiresIn: int,
    tokenType: { type: "string", enum: ["Bearer"] },
    scope: strings,
    sessionName: str,
  },
  ["sessionName"],
);
const apiKey = obj(
  {
    apiKeyId: str,
    name: str,
    enabled: bool,
    maxScope: strings,
    clientPublicKey: str,
    createDate: int,
    previousCredentialExpiresAt: int,
    rateLimits: {
      ...obj({ pki: int, pkiadmin: int, user: int, audit: int, auth: int }),
      description: "the key's effective requests per minute by tier (its own, else the default; 0: no limit)",
    },
  },
  ["clientPublicKey", "previousCredentialExpiresAt"],
);
/** A key's own limits by tier, on user/addApiKey and user/updateApiKey (API.md section 9). */
const rateLimits = optional(rateLimitsField);
const session = obj(
  {
    sessionId: str,
    apiKeyId: str,
    name: str,
    scope: strings,
    ipAddr: str,
    createdAt: int,
    expiresAt: int,
  },
  ["name", "ipAddr"],
);
const host = obj({ instanceId: str, hostPubKey: str, addresses: strings });
const b64 = { type: "string", contentEncoding: "base64" };
const b64s = { type: "array", items: b64 };
const entryProof = obj({ leafIndex: int, entry: b64, hashes: b64s });
const auditEvent = obj(
  {
    id: str,
    time: int,
    type: { type: "string", enum: [...AUDIT_EVENT_TYPES] },
    outcome: { type: "string", enum: ["ok", "denied"] },
    actor: obj({ apiKeyId: str, sessionId: str, ip: str }, ["apiKeyId", "sessionId", "ip"]),
    target: str,
    requestId: str,
    details: { type: "object" },
  },
  ["requestId"],
);
const keyRecord = obj(
  { userId: str, instanceId: str, contextId: str, userPubKey: str, createDate: int, customData: {} },
  ["userPubKey", "customData"],
);

/** Every method of the public API, by the names of the method reference. */
export const METHOD_SPECS = {
  // auth/: no credentials.
  "auth/createFirstApiKey": spec(
    null,
    object({ initializationToken, name }),
    "Creates the first API key while none exists, given the server's initialization token.",
    {
      result: obj({ apiKeyId: str, apiKeySecret: str }),
      errors: ["apikey.first_key_exists", "apikey.initialization_token_invalid"],
    },
  ),
  "auth/token": spec(
    null,
    oneOf("grantType", {
      client_credentials: object({
        grantType: literal("client_credentials"),
        clientId,
        clientSecret,
        scope: scopeList,
      }),
      refresh_token: object({ grantType: literal("refresh_token"), refreshToken }),
      client_signature: object({
        grantType: literal("client_signature"),
        clientId,
        signature,
        timestamp,
        nonce,
        scope: scopeList,
        data: optional(grantData),
      }),
    }),
    "Trades an API key's credentials or a refresh token for an access and refresh token pair.",
    {
      result: tokenPair,
      errors: [
        "apikey.not_found",
        "auth.invalid_credentials",
        "auth.insufficient_scope",
        "auth.token_invalid",
        "auth.token_expired",
      ],
    },
  ),
  "auth/forkToken": spec(
    null,
    object({ refreshToken, sessionName }),
    "Opens a new named session with the scope of the session a refresh token belongs to.",
    { result: tokenPair, errors: ["auth.token_invalid", "auth.token_expired"] },
  ),
  "auth/bindAccessToken": spec(null, object({ accessToken }), "Binds an access token to this WebSocket connection.", {
    websocketOnly: true,
    result: OK,
    errors: ["rpc.websocket_only", "auth.token_invalid", "auth.token_expired"],
  }),

  // user/: API keys.
  "user/addApiKey": spec(
    "user:write",
    oneOf("type", {
      secret: object({ type: literal("secret"), name, clientSecret, maxScope: scopeList, rateLimits }),
      pubKey: object({ type: literal("pubKey"), name, clientPubKey, maxScope: scopeList, rateLimits }),
    }),
    "Adds an API key with a secret or an Ed25519 public key.",
    { result: obj({ apiKeyId: str }), errors: ["apikey.too_many"] },
  ),
  "user/getApiKey": spec("user:read", object({ apiKeyId }), "Returns one API key (never its secret).", {
    result: obj({ apiKey }),
    errors: ["apikey.not_found"],
  }),
  "user/listApiKeys": spec("user:read", object({}), "Lists the API keys.", {
    result: obj({ list: { type: "array", items: apiKey } }),
    errors: [],
  }),
  "user/updateApiKey": spec(
    "user:write",
    object({
      apiKeyId,
      name: optional(name),
      enabled: optional(boolean()),
      maxScope: optional(scopeList),
      rateLimits,
    }),
    "Renames, enables, disables or changes the scope or the rate limits of an API key.",
    { result: OK, errors: ["apikey.not_found"] },
  ),
  "user/rotateApiKey": spec(
    "user:write",
    object({
      apiKeyId,
      clientSecret: optional(clientSecret),
      clientPubKey: optional(clientPubKey),
      gracePeriod: optional(gracePeriod),
    }),
    "Gives an API key a new credential; the previous one keeps working for a grace period.",
    {
      result: obj({ apiKeyId: str, previousCredentialExpiresAt: int, clientSecret: str }, ["clientSecret"]),
      errors: ["apikey.not_found"],
    },
  ),
  "user/deleteApiKey": spec("user:write", object({ apiKeyId }), "Deletes an API key and revokes its sessions.", {
    result: OK,
    errors: ["apikey.not_found"],
  }),
  "user/listSessions": spec("user:read", object({ apiKeyId }), "Lists the live sessions of an API key, newest first.", {
    result: obj({ list: { type: "array", items: session } }),
    errors: ["apikey.not_found"],
  }),
  "user/revokeSession": spec(
    "user:write",
    object({ apiKeyId, sessionId }),
    "Revokes a live session of an API key; its access and refresh tokens stop working at once.",
    { result: OK, errors: ["apikey.not_found", "auth.session_not_found"] },
  ),

  // pkiAdmin/: hosts and user keys.
  "pkiAdmin/setHost": spec(
    "pkiadmin:write",
    object({ hostPubKey: pubKey, hostUrl }),
    "Registers a host (a PrivMX Bridge server) by its public key and first URL.",
    {
      result: { ...str, description: "the instanceId (the host's public key)" },
      errors: ["pki.host_already_exists", "pki.host_url_reserved"],
    },
  ),
  "pkiAdmin/addHostUrl": spec("pkiadmin:write", object({ instanceId: pubKey, hostUrl }), "Adds a URL to a host.", {
    result: OK,
    errors: ["pki.host_not_found", "pki.host_url_exists", "pki.host_url_reserved"],
  }),
  "pkiAdmin/removeHostUrl": spec(
    "pkiadmin:write",
    object({ instanceId: pubKey, hostUrl }),
    "Removes a URL from a host.",
    { result: OK, errors: ["pki.host_not_found", "pki.host_url_not_found"] },
  ),
  "pkiAdmin/deleteHost": spec("pkiadmin:write", object({ instanceId: pubKey }), "Deletes a host.", {
    result: OK,
    errors: ["pki.host_not_found"],
  }),
  "pkiAdmin/listHosts": spec("pkiadmin:read", object({}), "Lists every host.", {
    result: { type: "array", items: host },
    errors: [],
  }),
  "pkiAdmin/setKey": spec(
    "pkiadmin:write",
    object({ ...keyRef, userPubKey: pubKey, customData: optional(customData) }),
    "Appends a user's new public key to its history in an instance and context.",
    { result: OK, errors: ["pki.key_already_exists"] },
  ),
  "pkiAdmin/deleteKey": spec("pkiadmin:write", object(keyRef), "Appends a deletion record to a user's key history.", {
    result: OK,
    errors: ["pki.no_key"],
  }),

  // pki/: reads.
  "pki/getCurrentKey": spec("pki:read", object(keyRef), "Returns the newest record of a user's key history.", {
    result: keyRecord,
    errors: ["pki.no_key"],
  }),
  "pki/getKeyAt": spec("pki:read", object({ ...keyRef, date }), "Returns the record in force at a time.", {
    result: keyRecord,
    errors: ["pki.no_key_at_time"],
  }),
  "pki/getKeyHistory": spec("pki:read", object(keyRef), "Returns every record of a key history, newest first.", {
    result: { type: "array", items: keyRecord },
    errors: [],
  }),
  "pki/verifyKey": spec(
    "pki:read",
    object({ ...keyRef, userPubKey: pubKey, date }),
    "Tells whether a key was the user's key at a time.",
    { result: bool, errors: ["pki.no_key_at_time"] },
  ),
  "pki/getHost": spec(
    "pki:read",
    refine(object({ instanceId: optional(pubKey), hostUrl: optional(hostUrl) }), (p) =>
      p.instanceId === undefined && p.hostUrl === undefined
        ? "Expected at least one of 'instanceId', 'hostUrl'"
        : undefined,
    ),
    "Finds a host by its instance id, its URL or both.",
    { result: host, errors: ["pki.host_not_found_by_filter"] },
  ),
  "pki/verifyHostById": spec(
    "pki:read",
    object({ instanceId: pubKey, hostUrl }),
    "Tells whether the host with this instance id has this URL.",
    { result: bool, errors: [] },
  ),
  "pki/verifyHostByPub": spec(
    "pki:read",
    object({ hostPubKey: pubKey, hostUrl }),
    "Tells whether the host with this public key has this URL.",
    { result: bool, errors: [] },
  ),

  // audit/: the security event log.
  "audit/listEvents": spec(
    "audit:read",
    refine(
      object({
        from: optional(date),
        to: optional(date),
        types: optional(array(literal(...AUDIT_EVENT_TYPES), 1, AUDIT_EVENT_TYPES.length)),
        apiKeyId: optional(apiKeyId),
        limit: optional(integer(1, AUDIT_LIST_MAX_LIMIT)),
        cursor: optional(string(1, AUDIT_CURSOR_MAX_LENGTH)),
      }),
      (p) => (p.from !== undefined && p.to !== undefined && p.from > p.to ? "Expected 'from' <= 'to'" : undefined),
    ),
    "Lists recorded security events, newest first, one page at a time.",
    {
      result: obj({ events: { type: "array", items: auditEvent }, nextCursor: str }, ["nextCursor"]),
      errors: [],
    },
  ),

  // pki/: the transparency log (API.md section 11); sizes above the newest checkpoint's are
  // refused by the service, which alone knows it.
  "pki/getCheckpoint": spec("pki:read", object({}), "Returns the newest signed checkpoint of the directory's log.", {
    result: obj({
      checkpoint: { ...str, description: "the C2SP signed note" },
      origin: str,
      treeSize: int,
      rootHash: b64,
      headMapRoot: b64,
      verifierKey: { ...str, description: "<origin>+<hash>+<base64 key>, to pin out of band" },
    }),
    errors: [],
  }),
  "pki/getInclusionProof": spec(
    "pki:read",
    refine(object({ leafIndex: integer(), treeSize: integer(1) }), (p) =>
      p.leafIndex >= p.treeSize ? "leafIndex -> Expected a value below treeSize" : undefined,
    ),
    "Returns a log entry and its inclusion proof in the tree of a size.",
    { result: obj({ leafIndex: int, treeSize: int, entry: b64, hashes: b64s }), errors: [] },
  ),
  "pki/getConsistencyProof": spec(
    "pki:read",
    refine(object({ fromSize: integer(1), toSize: integer(1) }), (p) =>
      p.fromSize > p.toSize ? "fromSize -> Expected a value at most toSize" : undefined,
    ),
    "Returns the consistency proof between two tree sizes of the log.",
    { result: obj({ fromSize: int, toSize: int, hashes: b64s }), errors: [] },
  ),
  "pki/getKeyProof": spec(
    "pki:read",
    object({ ...keyRef, date }),
    "Returns the record in force at a time with proofs against the newest checkpoint.",
    {
      result: obj(
        {
          checkpoint: str,
          record: keyRecord,
          entry: entryProof,
          next: entryProof,
          head: obj({ bitmap: b64, siblings: b64s }),
        },
        ["next", "head"],
      ),
      errors: ["pki.no_key_at_time"],
    },
  ),
} as const satisfies Record<string, MethodSpec<unknown>>;

export type MethodName = keyof typeof METHOD_SPECS;

/** The validated params of a method. */
export type ParamsOf<N extends MethodName> = Infer<(typeof METHOD_SPECS)[N]["params"]>;

export const METHOD_NAMES = Object.keys(METHOD_SPECS) as MethodName[];

/** The method a requested name denotes, accepting `pkiadmin/` for `pkiAdmin/`. */
export function canonicalMethodName(requested: string): MethodName | undefined {
  const name = requested.startsWith("pkiadmin/") ? `pkiAdmin/${requested.slice("pkiadmin/".length)}` : requested;
  return Object.hasOwn(METHOD_SPECS, name) ? (name as MethodName) : undefined;
}

/**
 * The scope a method needs: what a service requires of the callers of the RPC
 * that serves the method. Throws for a method that needs none.
 */
export function requiredScope(name: MethodName): Scope {
  const scope = METHOD_SPECS[name].scope;
  if (scope === null) throw new Error(`${name} needs no scope`);
  return scope;
}
