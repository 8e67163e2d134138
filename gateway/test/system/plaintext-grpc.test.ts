import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { hmacSignature, requestSigningPayload } from "@pkiserver/kit";
import { post, rpc, startTestSystem, type TestKey, type TestSystem, VALID_KEY_1 } from "@pkiserver/testing";

const SECRET = "CspXxVtTyE3sf6jB7z4CSjxoymuS2H67ZjNDfovTu3i8";
const ALL = ["user:read_write", "pki:read_write", "pkiadmin:read_write"];
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

function errorOf(res: { json: unknown }): { code: number } | undefined {
  return (res.json as { error?: { code: number } }).error;
}

/**
 * The services reached over gRPC without mutual TLS accept access tokens only
 * (no caller stated by the gateway): Basic and signed requests still work,
 * because auth checks their credential and answers with a request token the
 * gateway forwards.
 */
describe("gateway and services over gRPC without mutual TLS", () => {
  let gw: TestSystem;
  let admin: TestKey;
  before(async () => {
    gw = await startTestSystem({ transport: "grpc", mutualTls: false, env: { PMX_RATE_LIMIT_PER_MINUTE: "0" } });
    admin = await gw.addKey({ secret: SECRET, maxScope: ALL });
  });
  after(() => gw.close());

  it("serves Basic requests on every service: pki, apikey and auth", async () => {
    const authorization = basic(admin.apiKeyId, SECRET);
    const set = await post(
      gw,
      rpc("pkiAdmin/setHost", { hostPubKey: VALID_KEY_1, hostUrl: "https://plain.example.com" }),
      {
        authorization,
      },
    );
    assert.equal(errorOf(set), undefined, JSON.stringify(set.json));
    const hosts = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization });
    assert.equal(errorOf(hosts), undefined, JSON.stringify(hosts.json));
    const keys = await post(gw, rpc("user/listApiKeys", {}), { authorization });
    assert.equal(errorOf(keys), undefined, JSON.stringify(keys.json));
    const sessions = await post(gw, rpc("user/listSessions", { apiKeyId: admin.apiKeyId }), { authorization });
    assert.equal(errorOf(sessions), undefined, JSON.stringify(sessions.json));
  });

  /** POSTs `body` to /main signed with SECRET for `apiKeyId` (pmx-hmac-sha256, a fresh nonce). */
  const postSigned = (apiKeyId: string, body: string) => {
    const ts = Date.now();
    const nonce = `n${Math.random().toString(36).slice(2)}`;
    const signature = hmacSignature(SECRET, requestSigningPayload(ts, nonce, "POST", "/main", body));
    return fetch(gw.rpcUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `pmx-hmac-sha256 ${apiKeyId};1;${ts};${nonce};${signature}`,
      },
      body,
    });
  };

  it("serves signed requests, and a wrong secret or a disabled key is still refused (14)", async () => {
    const signer = await gw.addKey({ secret: SECRET, maxScope: ["pki:read"] });
    const body = JSON.stringify(rpc("pkiAdmin/listHosts", {}));
    const signed = await postSigned(signer.apiKeyId, body);
    const signedJson = (await signed.json()) as { error?: { code: number } };
    // pkiAdmin/listHosts needs pkiadmin:read, which this key lacks: refused with 73, not as unauthenticated.
    assert.equal(signedJson.error?.code, 73);
    const read = JSON.stringify(rpc("pki/getHost", { hostUrl: "https://plain.example.com" }));
    const ok = await postSigned(signer.apiKeyId, read);
    assert.equal(((await ok.json()) as { error?: unknown }).error, undefined);

    const wrong = await post(gw, rpc("pki/getHost", { hostUrl: "https://plain.example.com" }), {
      authorization: basic(signer.apiKeyId, "x".repeat(40)),
    });
    assert.equal(errorOf(wrong)?.code, 14);
    const disable = await post(gw, rpc("user/updateApiKey", { apiKeyId: signer.apiKeyId, enabled: false }), {
      authorization: basic(admin.apiKeyId, SECRET),
    });
    assert.equal(errorOf(disable), undefined, JSON.stringify(disable.json));
    const disabled = await post(gw, rpc("pki/getHost", { hostUrl: "https://plain.example.com" }), {
      authorization: basic(signer.apiKeyId, SECRET),
    });
    assert.equal(errorOf(disabled)?.code, 14);
  });

  it("answers OAuth introspection for a client authenticated with its secret", async () => {
    const pair = await gw.token({ apiKeyId: admin.apiKeyId, secret: SECRET }, ["pki:read"]);
    const res = await fetch(`${gw.url}/oauth2/introspect`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(admin.apiKeyId, SECRET) },
      body: new URLSearchParams({ token: pair.accessToken }).toString(),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { active: boolean }).active, true);
  });
});
