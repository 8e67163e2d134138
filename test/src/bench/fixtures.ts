import { randomBytes } from "node:crypto";
import { randomPubKey } from "../support/keys";
import { batch, bearer, rpc } from "./rpc";
import type { System } from "./servers";

/** What the rows of one system send: credentials, and request bodies made before timing starts. */
export interface Fixture {
  readonly sys: System;
  /** Bearer token of the first key (every scope). */
  readonly auth: Record<string, string>;
  /** A key only for grants: every grant opens a session and the 17th closes the oldest (the Bearer's, on the first key). */
  readonly grantKey: { readonly id: string; readonly secret: string };
  readonly instanceId: string;
  readonly verifyKeyBodies: readonly string[];
  readonly getKeyAtBodies: readonly string[];
  /** verifyKey of the history's current key at the time of sending: a date after its newest record. */
  readonly verifyKeyNow: () => { body: string };
  readonly listHostsBody: string;
  /** A new token for the Bearer of the reads (the soak outlives one). */
  renewAuth(): Promise<Record<string, string>>;
  /** A client_credentials grant body for a key. */
  tokenBody(key: { id: string; secret: string }): string;
  /** Makes setKey bodies that append to 256 histories in turn, each with a key other than its current one. */
  setKeyMaker(): () => { body: string };
  /** Adds a secret-type API key that may only read pki. */
  addGrantKey(name: string): Promise<{ id: string; secret: string }>;
}

export const rpcBody = (id: number, method: string, params: unknown): string =>
  JSON.stringify({ jsonrpc: "2.0", id, method, params });

/**
 * setKey bodies that append to 256 histories in turn. History h gets the
 * pool's keys in turn, one per round of 256 writes, so a write never repeats
 * the history's current key (which setKey refuses), even when writes of
 * neighbouring rounds overtake each other.
 */
export function setKeyMaker(instanceId: string, contextId: string, keys: readonly string[]): () => { body: string } {
  const histories = 256;
  let n = 0;
  return () => {
    const i = n++;
    return {
      body: rpcBody(i + 1, "pkiAdmin/setKey", {
        userId: `bench-writer-${i % histories}`,
        instanceId,
        contextId,
        userPubKey: keys[Math.floor(i / histories) % keys.length],
      }),
    };
  };
}

/** Keys, a host list and a short key history on a fresh system. */
export async function prepare(sys: System): Promise<Fixture> {
  const { url } = sys;
  const grant = async (key: { id: string; secret: string }, scope: string[]) =>
    bearer(
      (
        await rpc<{ accessToken: string }>(url, "auth/token", {
          grantType: "client_credentials",
          clientId: key.id,
          clientSecret: key.secret,
          scope,
        })
      ).accessToken,
    );
  const auth = await grant(sys.firstKey, []);
  const addGrantKey = async (name: string) => {
    const secret = randomBytes(36).toString("base64url");
    const { apiKeyId } = await rpc<{ apiKeyId: string }>(
      url,
      "user/addApiKey",
      { type: "secret", name, clientSecret: secret, maxScope: ["pki:read"] },
      auth,
    );
    return { id: apiKeyId, secret };
  };
  const grantKey = await addGrantKey("bench grants");

  // A few hosts, so that listHosts answers with something to serialise.
  const hostKeys = Array.from({ length: 8 }, () => randomPubKey());
  const tag = randomBytes(4).toString("hex");
  await batch(
    url,
    hostKeys.map((hostPubKey, i) => ({
      method: "pkiAdmin/setHost",
      params: { hostPubKey, hostUrl: `https://bench-${tag}-${i}.example.com` },
    })),
    auth,
  );
  const instanceId = hostKeys[0] as string;

  // A history of ten records; the reads ask about different records and times.
  const ref = { userId: "bench-reader", instanceId, contextId: "ctx-bench" };
  const readKeys = Array.from({ length: 10 }, () => randomPubKey());
  await batch(
    url,
    readKeys.map((userPubKey) => ({ method: "pkiAdmin/setKey", params: { ...ref, userPubKey } })),
    auth,
  );
  const history = await rpc<{ userPubKey: string; createDate: number }[]>(url, "pki/getKeyHistory", ref, auth);
  const recordAt = (i: number) => history[i % history.length] as { userPubKey: string; createDate: number };
  const verifyKeyBodies = Array.from({ length: 16 }, (_, i) => {
    // Half ask about the key in force at that time (true), half about another one (false).
    const userPubKey = (i % 2 === 0 ? recordAt(i) : recordAt(i + 3)).userPubKey;
    return rpcBody(i + 1, "pki/verifyKey", { ...ref, userPubKey, date: recordAt(i).createDate });
  });
  const getKeyAtBodies = Array.from({ length: 16 }, (_, i) =>
    rpcBody(i + 1, "pki/getKeyAt", { ...ref, date: recordAt(i).createDate }),
  );

  const newest = history.reduce((a, b) => (b.createDate > a.createDate ? b : a));
  let nowId = 0;
  const verifyKeyNow = () => ({
    body: rpcBody(++nowId, "pki/verifyKey", { ...ref, userPubKey: newest.userPubKey, date: Date.now() }),
  });

  const writeKeys = Array.from({ length: 16 }, () => randomPubKey());
  return {
    sys,
    auth,
    grantKey,
    instanceId,
    verifyKeyBodies,
    getKeyAtBodies,
    verifyKeyNow,
    listHostsBody: rpcBody(1, "pkiAdmin/listHosts", {}),
    renewAuth: () => grant(sys.firstKey, []),
    tokenBody: (key) =>
      rpcBody(1, "auth/token", {
        grantType: "client_credentials",
        clientId: key.id,
        clientSecret: key.secret,
        scope: ["pki:read"],
      }),
    setKeyMaker: () => setKeyMaker(instanceId, `ctx-${tag}`, writeKeys),
    addGrantKey,
  };
}
