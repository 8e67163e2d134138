import type { Scope } from "@pkiserver/kit/core";
import {
  accessToken,
  apiKeyId,
  clientId,
  clientPubKey,
  clientSecret,
  customData,
  date,
  grantData,
  hostUrl,
  initializationToken,
  keyRef,
  name,
  nonce,
  pubKey,
  refreshToken,
  scopeList,
  sessionName,
  signature,
  timestamp,
} from "./fields";
import { boolean, type Infer, integer, literal, object, oneOf, optional, refine, type Schema } from "./schema";

/** What the contract says of one JSON-RPC method: who may call it and what its params are. */
export interface MethodSpec<P = unknown> {
  /** Scope the caller must hold; null for methods that need no credentials (auth/*). */
  readonly scope: Scope | null;
  readonly params: Schema<P> & { hasRequired?: boolean };
  /** Callable over WebSocket only. */
  readonly websocketOnly?: boolean;
  /** One line for the method's documentation. */
  readonly summary: string;
}

const spec = <P>(
  scope: Scope | null,
  params: Schema<P> & { hasRequired?: boolean },
  summary: string,
  extra: { websocketOnly?: boolean } = {},
): MethodSpec<P> => ({ scope, params, summary, ...extra });

/** Every method of the public API, by the names of the method reference. */
export const METHOD_SPECS = {
  // auth/: no credentials.
  "auth/createFirstApiKey": spec(
    null,
    object({ initializationToken, name }),
    "Creates the first API key while none exists, given the server's initialization token.",
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
  ),
  "auth/forkToken": spec(
    null,
    object({ refreshToken, sessionName }),
    "Opens a new named session with the scope of the session a refresh token belongs to.",
  ),
  "auth/bindAccessToken": spec(null, object({ accessToken }), "Binds an access token to this WebSocket connection.", {
    websocketOnly: true,
  }),

  // user/: API keys.
  "user/addApiKey": spec(
    "user:write",
    oneOf("type", {
      secret: object({ type: literal("secret"), name, clientSecret, maxScope: scopeList }),
      pubKey: object({ type: literal("pubKey"), name, clientPubKey, maxScope: scopeList }),
    }),
    "Adds an API key with a secret or an Ed25519 public key.",
  ),
  "user/getApiKey": spec("user:read", object({ apiKeyId }), "Returns one API key (never its secret)."),
  "user/listApiKeys": spec("user:read", object({}), "Lists the API keys."),
  "user/updateApiKey": spec(
    "user:write",
    object({ apiKeyId, name: optional(name), enabled: optional(boolean()), maxScope: optional(scopeList) }),
    "Renames, enables, disables or changes the scope of an API key.",
  ),
  "user/deleteApiKey": spec("user:write", object({ apiKeyId }), "Deletes an API key and revokes its sessions."),

  // pkiAdmin/: hosts and user keys.
  "pkiAdmin/setHost": spec(
    "pkiadmin:write",
    object({ hostPubKey: pubKey, hostUrl }),
    "Registers a host (a PrivMX Bridge server) by its public key and first URL.",
  ),
  "pkiAdmin/addHostUrl": spec("pkiadmin:write", object({ instanceId: pubKey, hostUrl }), "Adds a URL to a host."),
  "pkiAdmin/removeHostUrl": spec(
    "pkiadmin:write",
    object({ instanceId: pubKey, hostUrl }),
    "Removes a URL from a host.",
  ),
  "pkiAdmin/deleteHost": spec("pkiadmin:write", object({ instanceId: pubKey }), "Deletes a host."),
  "pkiAdmin/listHosts": spec("pkiadmin:read", object({}), "Lists every host."),
  "pkiAdmin/setKey": spec(
    "pkiadmin:write",
    object({ ...keyRef, userPubKey: pubKey, customData: optional(customData) }),
    "Appends a user's new public key to its history in an instance and context.",
  ),
  "pkiAdmin/deleteKey": spec("pkiadmin:write", object(keyRef), "Appends a deletion record to a user's key history."),

  // pki/: reads.
  "pki/getCurrentKey": spec("pki:read", object(keyRef), "Returns the newest record of a user's key history."),
  "pki/getKeyAt": spec("pki:read", object({ ...keyRef, date }), "Returns the record in force at a time."),
  "pki/getKeyHistory": spec("pki:read", object(keyRef), "Returns every record of a key history, newest first."),
  "pki/verifyKey": spec(
    "pki:read",
    object({ ...keyRef, userPubKey: pubKey, date }),
    "Tells whether a key was the user's key at a time.",
  ),
  "pki/getHost": spec(
    "pki:read",
    refine(object({ instanceId: optional(pubKey), hostUrl: optional(hostUrl) }), (p) =>
      p.instanceId === undefined && p.hostUrl === undefined
        ? "Expected at least one of 'instanceId', 'hostUrl'"
        : undefined,
    ),
    "Finds a host by its instance id, its URL or both.",
  ),
  "pki/verifyHostById": spec(
    "pki:read",
    object({ instanceId: pubKey, hostUrl }),
    "Tells whether the host with this instance id has this URL.",
  ),
  "pki/verifyHostByPub": spec(
    "pki:read",
    object({ hostPubKey: pubKey, hostUrl }),
    "Tells whether the host with this public key has this URL.",
  ),

  // pki/: the transparency log (API.md section 11); sizes above the newest checkpoint's are
  // refused by the service, which alone knows it.
  "pki/getCheckpoint": spec("pki:read", object({}), "Returns the newest signed checkpoint of the directory's log."),
  "pki/getInclusionProof": spec(
    "pki:read",
    refine(object({ leafIndex: integer(), treeSize: integer(1) }), (p) =>
      p.leafIndex >= p.treeSize ? "leafIndex -> Expected a value below treeSize" : undefined,
    ),
    "Returns a log entry and its inclusion proof in the tree of a size.",
  ),
  "pki/getConsistencyProof": spec(
    "pki:read",
    refine(object({ fromSize: integer(1), toSize: integer(1) }), (p) =>
      p.fromSize > p.toSize ? "fromSize -> Expected a value at most toSize" : undefined,
    ),
    "Returns the consistency proof between two tree sizes of the log.",
  ),
  "pki/getKeyProof": spec(
    "pki:read",
    object({ ...keyRef, date }),
    "Returns the record in force at a time with proofs against the newest checkpoint.",
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
