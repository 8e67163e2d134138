import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { METHOD_NAMES } from "@pkiserver/gateway";
import type { TestKey, TestSystem } from "@pkiserver/testing";
import { post, rpc, startTestSystem, VALID_KEY_1, VALID_KEY_2 } from "@pkiserver/testing";

const SECRET = "methods-secret-methods-secret-methods";
let AUTH: { authorization: string };

/** Every method of the method reference (seed 001). */
const SEED_METHODS = [
  "audit/listEvents",
  "auth/bindAccessToken",
  "auth/createFirstApiKey",
  "auth/forkToken",
  "auth/token",
  "pki/getCurrentKey",
  "pki/getHost",
  "pki/getKeyAt",
  "pki/getKeyHistory",
  "pki/verifyHostById",
  "pki/verifyHostByPub",
  "pki/verifyKey",
  "pkiAdmin/addHostUrl",
  "pkiAdmin/deleteHost",
  "pkiAdmin/deleteKey",
  "pkiAdmin/listHosts",
  "pkiAdmin/removeHostUrl",
  "pkiAdmin/setHost",
  "pkiAdmin/setKey",
  "user/addApiKey",
  "user/deleteApiKey",
  "user/getApiKey",
  "user/listApiKeys",
  "user/updateApiKey",
];

/** Methods API.md adds to the method reference. */
const CONTRACT_METHODS = ["user/rotateApiKey"];
/** Sessions of a key, for operators (the pkiserver command line). */
const SESSION_METHODS = ["user/listSessions", "user/revokeSession"];
/** The transparency log's methods (API.md section 11). */
const LOG_METHODS = ["pki/getCheckpoint", "pki/getConsistencyProof", "pki/getInclusionProof", "pki/getKeyProof"];

async function result(gw: TestSystem, method: string, params: unknown): Promise<unknown> {
  const res = await post(gw, rpc(method, params), AUTH);
  const body = res.json as { result?: unknown; error?: unknown };
  assert.equal(body.error, undefined, `${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

describe("method table", () => {
  let gw: TestSystem;
  let km: TestKey;
  before(async () => {
    gw = await startTestSystem({ env: { PMX_RATE_LIMIT_PER_MINUTE: "0" } });
    km = await gw.addKey({ secret: SECRET, maxScope: ["user:read_write", "pki:read_write", "pkiadmin:read_write"] });
    AUTH = { authorization: km.basic };
  });
  after(async () => gw.close());

  it("routes exactly the methods of the method reference, the contract's additions, sessions and the transparency log's", async () => {
    const all = [...SEED_METHODS, ...CONTRACT_METHODS, ...SESSION_METHODS, ...LOG_METHODS];
    assert.deepEqual([...METHOD_NAMES].sort(), all.sort());
    for (const name of all) {
      const res = await post(gw, rpc(name, {}), AUTH);
      assert.notEqual((res.json as { error?: { code: number } }).error?.code, -32601, name);
    }
  });

  it("maps hosts: setHost returns the instanceId string, listHosts and getHost the host records", async () => {
    assert.equal(
      await result(gw, "pkiAdmin/setHost", { hostPubKey: VALID_KEY_1, hostUrl: "https://a.example" }),
      VALID_KEY_1,
    );
    assert.equal(
      await result(gw, "pkiAdmin/addHostUrl", { instanceId: VALID_KEY_1, hostUrl: "https://b.example" }),
      "OK",
    );
    const host = {
      instanceId: VALID_KEY_1,
      hostPubKey: VALID_KEY_1,
      addresses: ["https://a.example", "https://b.example"],
    };
    assert.deepEqual(await result(gw, "pkiAdmin/listHosts", {}), [host]);
    assert.deepEqual(await result(gw, "pki/getHost", { hostUrl: "https://b.example" }), host);
    assert.equal(
      await result(gw, "pki/verifyHostById", { instanceId: VALID_KEY_1, hostUrl: "https://a.example" }),
      true,
    );
    assert.equal(
      await result(gw, "pki/verifyHostByPub", { hostPubKey: VALID_KEY_1, hostUrl: "https://z.example" }),
      false,
    );
    assert.equal(
      await result(gw, "pkiAdmin/removeHostUrl", { instanceId: VALID_KEY_1, hostUrl: "https://b.example" }),
      "OK",
    );
    assert.equal(await result(gw, "pkiAdmin/deleteHost", { instanceId: VALID_KEY_1 }), "OK");
    const missing = await post(gw, rpc("pki/getHost", { instanceId: VALID_KEY_1 }), AUTH);
    assert.deepEqual((missing.json as { error: unknown }).error, {
      code: 87,
      message: "Cannot find host by given filter.",
      data: null,
    });
  });

  it("maps user keys with customData round-tripped as JSON and deletion records without userPubKey", async () => {
    const ref = { userId: "user1", instanceId: VALID_KEY_1, contextId: "ctx-1" };
    const customData = { role: "admin", tags: [1, "two", null] };
    assert.equal(await result(gw, "pkiAdmin/setKey", { ...ref, userPubKey: VALID_KEY_2, customData }), "OK");
    const sent = gw.calls.findLast((c) => c.rpc === "setKey")?.request as { customDataJson?: string };
    assert.deepEqual(JSON.parse(sent.customDataJson ?? "null"), customData);
    const current = (await result(gw, "pki/getCurrentKey", ref)) as Record<string, unknown>;
    assert.deepEqual(current, { ...ref, userPubKey: VALID_KEY_2, createDate: current.createDate, customData });
    assert.equal(typeof current.createDate, "number");
    assert.deepEqual(await result(gw, "pki/getKeyAt", { ...ref, date: current.createDate }), current);
    assert.equal(
      await result(gw, "pki/verifyKey", { ...ref, userPubKey: VALID_KEY_2, date: current.createDate }),
      true,
    );
    assert.equal(await result(gw, "pkiAdmin/deleteKey", ref), "OK");
    const history = (await result(gw, "pki/getKeyHistory", ref)) as Record<string, unknown>[];
    assert.equal(history.length, 2);
    assert.equal("userPubKey" in (history[0] as object), false);
    assert.equal("customData" in (history[0] as object), false);
  });

  it("maps API keys without ever returning a secret", async () => {
    const added = (await result(gw, "user/addApiKey", {
      type: "secret",
      name: "second",
      clientSecret: "c".repeat(40),
      maxScope: ["pki:read"],
    })) as { apiKeyId: string };
    const got = (await result(gw, "user/getApiKey", { apiKeyId: added.apiKeyId })) as {
      apiKey: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(got.apiKey).sort(), [
      "apiKeyId",
      "createDate",
      "enabled",
      "maxScope",
      "name",
      "rateLimits",
    ]);
    // The effective limits: this gateway's defaults (every tier off here), the key having none of its own.
    assert.deepEqual(got.apiKey.rateLimits, { pki: 0, pkiadmin: 0, user: 0, audit: 0, auth: 0 });
    assert.deepEqual(got.apiKey.maxScope, ["pki:read"]);
    const list = (await result(gw, "user/listApiKeys", {})) as { list: Record<string, unknown>[] };
    assert.ok(list.list.some((k) => k.apiKeyId === added.apiKeyId));
    assert.equal(JSON.stringify(list).includes("c".repeat(40)), false);
    assert.equal(await result(gw, "user/updateApiKey", { apiKeyId: added.apiKeyId, name: "renamed" }), "OK");
    const upd = gw.calls.findLast((c) => c.rpc === "updateApiKey")?.request as Record<string, unknown>;
    assert.equal(upd.name, "renamed");
    assert.equal(upd.maxScope, undefined, "an absent maxScope is not sent as an empty one");
    assert.equal(await result(gw, "user/deleteApiKey", { apiKeyId: added.apiKeyId }), "OK");
  });

  it("maps token grants, passing the client address and the optional data", async () => {
    const res = (await result(gw, "auth/token", {
      grantType: "client_credentials",
      clientId: km.apiKeyId,
      clientSecret: SECRET,
      scope: ["pki:read"],
    })) as Record<string, unknown>;
    assert.equal(res.tokenType, "Bearer");
    assert.deepEqual(res.scope, ["pki:read"]);
    const issued = gw.calls.findLast((c) => c.rpc === "issueToken")?.request as { clientIp: string };
    assert.equal(issued.clientIp, "127.0.0.1");
    await post(
      gw,
      rpc("auth/token", {
        grantType: "client_signature",
        clientId: km.apiKeyId,
        signature: "sig",
        timestamp: 1752006667020,
        nonce: "abc",
        scope: [],
        data: "hello",
      }),
    );
    const sig = gw.calls.findLast((c) => c.rpc === "issueToken")?.request as {
      grant: { $case: string; value: Record<string, unknown> };
    };
    assert.equal(sig.grant.$case, "clientSignature");
    assert.equal(sig.grant.value.data, "hello");
    assert.equal(sig.grant.value.timestamp, 1752006667020);
    const forked = (await result(gw, "auth/forkToken", {
      refreshToken: String(res.refreshToken),
      sessionName: "other",
    })) as Record<string, unknown>;
    assert.equal(forked.tokenType, "Bearer");
  });

  it("refuses a client_signature nonce outside the base64 alphabets with -32602 before asking auth", async () => {
    const issued = gw.calls.filter((c) => c.rpc === "issueToken").length;
    const grant = {
      grantType: "client_signature",
      clientId: km.apiKeyId,
      signature: "sig",
      timestamp: 1752006667020,
      scope: [],
    };
    const cases: [string, string][] = [
      ["abc;\n\nx", "nonce -> Invalid characters! Expected only A-Z a-z 0-9 + / = _ -"],
      ["a.b", "nonce -> Invalid characters! Expected only A-Z a-z 0-9 + / = _ -"],
      ["", "nonce -> Invalid length! Expected min 1, get 0"],
      ["a".repeat(65), "nonce -> Invalid length! Expected max 64, get 65"],
    ];
    for (const [nonce, data] of cases) {
      const res = await post(gw, rpc("auth/token", { ...grant, nonce }));
      assert.deepEqual((res.json as { error?: unknown }).error, { code: -32602, message: "Invalid params", data });
    }
    assert.equal(gw.calls.filter((c) => c.rpc === "issueToken").length, issued);
  });
});
