import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { signAccessToken } from "@pkiserver/contract";
import { Events, ed25519Sign, hmacSignature, requestSigningPayload } from "@pkiserver/kit";
import type { TestKey, TestSystem } from "@pkiserver/testing";
import {
  addTestKey,
  INITIALIZATION_TOKEN,
  issueTestToken,
  post,
  rpc,
  startTestSystem,
  VALID_KEY_1,
  withTestSystem,
} from "@pkiserver/testing";

const SECRET = "CspXxVtTyE3sf6jB7z4CSjxoymuS2H67ZjNDfovTu3i8";
const ED_PRIVATE =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOBVFGaSFtfqbNvZWctFKg3k+I0T5YXRavpKAD9+BgCX\n-----END PRIVATE KEY-----";
const ED_PUBLIC =
  "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEADsSTjY2wnm1iwWamIWwLTPVhtTIb8TVlI8tts3wkhkQ=\n-----END PUBLIC KEY-----\n";
const ALL = ["user:read_write", "pki:read_write", "pkiadmin:read_write"];

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

/** A token signed the way auth signs, by a key auth never had. */
function strangerToken(apiKeyId: string): Promise<string> {
  const { privateKey } = generateKeyPairSync("ed25519");
  const issuedAt = Date.now();
  return signAccessToken(
    { apiKeyId, sessionId: "s", generation: 1, scope: ["pkiadmin:read"], issuedAt, expiresAt: issuedAt + 60_000 },
    { kid: `kid-${randomUUID()}`, privateKey },
  );
}

/** The key id (`kid`) in a token's header. */
function kidOf(token: string): string {
  const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()) as { kid: string };
  return header.kid;
}

function errorOf(res: { json: unknown }): { code: number; message: string; data: unknown } | undefined {
  return (res.json as { error?: { code: number; message: string; data: unknown } }).error;
}

async function signedPost(
  gw: TestSystem,
  opts: {
    body: string;
    keyId: string;
    sign: (payload: Buffer) => string;
    uri?: string;
    nonce?: string;
    tamper?: (h: string) => string;
  },
) {
  const uri = opts.uri ?? "/main";
  const ts = Date.now();
  const nonce = opts.nonce ?? `n${Math.random().toString(36).slice(2)}`;
  const signature = opts.sign(requestSigningPayload(ts, nonce, "POST", uri, opts.body));
  let header = `pmx-hmac-sha256 ${opts.keyId};1;${ts};${nonce};${signature}`;
  if (opts.tamper) header = opts.tamper(header);
  const res = await fetch(`${gw.url}${uri}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: header },
    body: opts.body,
  });
  return { status: res.status, json: (await res.json()) as unknown };
}

describe("authentication and scopes", () => {
  let gw: TestSystem;
  let admin: TestKey;
  let reader: TestKey;
  let pub: TestKey;
  /** A token of admin's whose session auth revoked before the gateway started. */
  let snapToken: string;
  /** Before the gateway started: a key's first 17 grants, the first of which the cap of 16 live sessions closed. */
  let capped: { apiKeyId: string; pairs: { accessToken: string; sessionId: string }[] };
  /** Tokens from auth for a secret key of this suite. */
  const tokenOf = async (key: TestKey, scope: string[]) =>
    (await gw.token({ apiKeyId: key.apiKeyId, secret: SECRET }, scope)).accessToken;
  before(async () => {
    gw = await startTestSystem({
      env: { PMX_RATE_LIMIT_PER_MINUTE: "0" },
      beforeGateway: async (services) => {
        const { apiKeyId } = await addTestKey(services, { secret: SECRET, maxScope: ALL });
        const pair = await issueTestToken(services, { apiKeyId, secret: SECRET }, ALL);
        snapToken = pair.accessToken;
        await services.auth.revokeSession({ sessionId: pair.sessionId });
        const key = await addTestKey(services, { secret: SECRET, maxScope: ALL });
        capped = { apiKeyId: key.apiKeyId, pairs: [] };
        for (let i = 0; i < 17; i++) {
          capped.pairs.push(await issueTestToken(services, { apiKeyId: key.apiKeyId, secret: SECRET }, ALL));
        }
      },
    });
    admin = await gw.addKey({ secret: SECRET, maxScope: ALL });
    reader = await gw.addKey({ secret: SECRET, maxScope: ["pki:read"] });
    pub = await gw.addKey({ publicKeyPem: ED_PUBLIC, maxScope: ALL });
  });
  after(async () => gw.close());

  it("refuses a protected method without credentials with 14", async () => {
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}));
    assert.deepEqual(errorOf(res), { code: 14, message: "Unauthorized", data: null });
  });

  it("lets auth/* methods through without credentials", async () => {
    // A system with no key yet: the first key can be made.
    const fresh = await startTestSystem();
    try {
      const res = await post(
        fresh,
        rpc("auth/createFirstApiKey", { initializationToken: INITIALIZATION_TOKEN, name: "first" }),
      );
      const result = (res.json as { result: { apiKeyId: string; apiKeySecret: string } }).result;
      assert.deepEqual(Object.keys(result).sort(), ["apiKeyId", "apiKeySecret"]);
      const ok = await post(fresh, rpc("pkiAdmin/listHosts", {}), {
        authorization: basic(result.apiKeyId, result.apiKeySecret),
      });
      assert.deepEqual((ok.json as { result: unknown }).result, []);
    } finally {
      await fresh.close();
    }
  });

  it("accepts Basic credentials and gives the caller the key's maxScope", async () => {
    const ok = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: admin.basic });
    assert.deepEqual((ok.json as { result: unknown }).result, []);
    const refused = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: reader.basic });
    assert.deepEqual(errorOf(refused), { code: 73, message: "Insufficient scope", data: null });
  });

  it("refuses wrong or malformed Basic credentials with 14", async () => {
    for (const authorization of [
      basic(admin.apiKeyId, "wrong"),
      "Basic !!!",
      basic("", SECRET),
      "Basic",
      "Digest abc",
    ]) {
      const res = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization });
      assert.equal(errorOf(res)?.code, 14, authorization);
    }
  });

  it("refuses malformed signed-request headers with 14, whatever part is wrong", async () => {
    const ts = Date.now();
    for (const value of [
      "k-admin;1;1",
      `k-admin;1;${ts};n;sig;extra`,
      `k-admin;2;${ts};n;sig`,
      "k-admin;1;soon;n;sig",
      `k-admin;1;${ts};;sig`,
      // Digits enough to pass for a timestamp, but beyond what any service can take as one.
      "k-admin;1;9999999999999999;n;sig",
      "",
    ]) {
      const res = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `pmx-hmac-sha256 ${value}` });
      assert.deepEqual(errorOf(res), { code: 14, message: "Unauthorized", data: null }, value);
    }
  });

  it("takes a token before an Authorization header of another scheme, however long that header is", async () => {
    const token = await tokenOf(admin, ALL);
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}), {
      authorization: `Basic ${"A".repeat(9000)}`,
      "x-user-token": token,
    });
    assert.deepEqual((res.json as { result: unknown }).result, []);
  });

  it("refuses Basic credentials for a key that has a public key", async () => {
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: basic(pub.apiKeyId, SECRET) });
    assert.deepEqual(errorOf(res), { code: 14, message: "Unauthorized", data: null });
  });

  it("builds the signing payload as API.md's request vector does", () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"pkiAdmin/listHosts","params":{}}';
    const payload = requestSigningPayload(1702555410352, "3xUee4EA0gr8dg==", "post", "/main", body);
    assert.equal(hmacSignature(SECRET, payload), "X62q9WMd9TP4lTSiMKUk/R9yVlw=");
  });

  it("accepts a request signed with the key's secret over the exact URI and body", async () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"pkiAdmin/listHosts","params":{}}';
    const res = await signedPost(gw, { body, keyId: admin.apiKeyId, sign: (p) => hmacSignature(SECRET, p) });
    assert.deepEqual(res.json, { jsonrpc: "2.0", id: 1, result: [] });
    const withQuery = await signedPost(gw, {
      body,
      keyId: admin.apiKeyId,
      uri: "/main?trace=1",
      sign: (p) => hmacSignature(SECRET, p),
    });
    assert.deepEqual(withQuery.json, { jsonrpc: "2.0", id: 1, result: [] });
  });

  it("accepts a request signed with the key's Ed25519 private key", async () => {
    const body = '{"jsonrpc":"2.0","id":3,"method":"pkiAdmin/listHosts","params":{}}';
    const res = await signedPost(gw, { body, keyId: pub.apiKeyId, sign: (p) => ed25519Sign(ED_PRIVATE, p) });
    assert.deepEqual(res.json, { jsonrpc: "2.0", id: 3, result: [] });
  });

  it("refuses a tampered signature, a signature over another body and a replayed nonce with 14", async () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"pkiAdmin/listHosts","params":{}}';
    const tampered = await signedPost(gw, {
      body,
      keyId: admin.apiKeyId,
      sign: (p) => hmacSignature(SECRET, p),
      tamper: (h) => `${h.slice(0, -3)}AAA`,
    });
    assert.equal(errorOf(tampered)?.code, 14);
    const otherBody = await signedPost(gw, {
      body,
      keyId: admin.apiKeyId,
      sign: (p) => hmacSignature(SECRET, Buffer.concat([p, Buffer.from(" ")])),
    });
    assert.equal(errorOf(otherBody)?.code, 14);
    const first = await signedPost(gw, {
      body,
      keyId: admin.apiKeyId,
      nonce: "once",
      sign: (p) => hmacSignature(SECRET, p),
    });
    assert.equal(errorOf(first), undefined);
    const replay = await signedPost(gw, {
      body,
      keyId: admin.apiKeyId,
      nonce: "once",
      sign: (p) => hmacSignature(SECRET, p),
    });
    assert.equal(errorOf(replay)?.code, 14);
  });

  it("accepts an access token as Bearer or X-User-Token and checks its scope", async () => {
    const token = await tokenOf(admin, ["pkiadmin:read"]);
    const bearer = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${token}` });
    assert.deepEqual((bearer.json as { result: unknown }).result, []);
    const header = await post(gw, rpc("pkiAdmin/listHosts", {}), { "x-user-token": token });
    assert.deepEqual((header.json as { result: unknown }).result, []);
    const write = await post(gw, rpc("pkiAdmin/deleteHost", { instanceId: VALID_KEY_1 }), { "x-user-token": token });
    assert.equal(errorOf(write)?.code, 73);
  });

  it("refuses a token that does not verify with 76 and an expired one with 75", async () => {
    const garbage = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: "Bearer not.a.token" });
    assert.deepEqual(errorOf(garbage), { code: 76, message: "Token is invalid", data: null });
    const stranger = await strangerToken(admin.apiKeyId);
    assert.equal(
      errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${stranger}` }))?.code,
      76,
    );
    // Asked to live 1 ms: expired by the time it is used.
    const expired = await tokenOf(admin, [...ALL, "expiresIn:1"]);
    await new Promise((r) => setTimeout(r, 5));
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${expired}` });
    assert.deepEqual(errorOf(res), { code: 75, message: "Token is expired or has been revoked", data: null });
  });

  it("refuses tokens of sessions in auth's revocation snapshot", async () => {
    assert.equal(
      errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${snapToken}` }))?.code,
      75,
    );
  });

  it("refuses the token of a session the cap closed before it started (auth's cap mark), accepts the key's live ones", async () => {
    const [closed, ...live] = capped.pairs;
    assert.ok(closed && live.length === 16);
    // Auth's snapshot has the key's mark, not the session.
    const list = await gw.services.auth.listRevocations({});
    assert.deepEqual(
      list.capMarks.filter((m) => m.apiKeyId === capped.apiKeyId).map((m) => m.sessionId),
      [closed.sessionId],
    );
    assert.ok(!list.revoked.some((r) => r.sessionId === closed.sessionId));
    const call = (token: string) => post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${token}` });
    assert.equal(errorOf(await call(closed.accessToken))?.code, 75);
    for (const pair of [live[0], live[15]]) assert.equal(errorOf(await call(pair?.accessToken ?? "")), undefined);
  });

  it("refuses tokens once a revocation or rotation event arrives", async () => {
    const first = await gw.token({ apiKeyId: admin.apiKeyId, secret: SECRET }, ALL);
    const old = first.accessToken;
    assert.equal(errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${old}` })), undefined);
    // Auth rotates the session (a refresh not made through this gateway): it hears of it by the event.
    const { token: refreshed } = await gw.services.auth.issueToken({
      grant: { $case: "refreshToken", value: { refreshToken: first.refreshToken } },
      clientIp: "127.0.0.1",
    });
    const current = refreshed?.accessToken ?? "";
    assert.equal(refreshed?.generation, first.generation + 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${old}` }))?.code, 75);
    assert.equal(
      errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${current}` })),
      undefined,
    );
    await gw.services.auth.revokeSession({ sessionId: first.sessionId });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(
      errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${current}` }))?.code,
      75,
    );
  });

  it("applies a refresh's rotation before replying, so the old access token fails at once", async () => {
    const pair = await gw.token({ apiKeyId: reader.apiKeyId, secret: SECRET }, ["pki:read"]);
    const old = pair.accessToken;
    const params = { userId: "abc", instanceId: VALID_KEY_1, contextId: "ctx" };
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${old}` })),
      undefined,
    );
    const refreshed = await post(
      gw,
      rpc("auth/token", { grantType: "refresh_token", refreshToken: pair.refreshToken }),
    );
    const result = (refreshed.json as { result: Record<string, unknown> }).result;
    assert.deepEqual(Object.keys(result).sort(), [
      "accessToken",
      "accessTokenExpiresIn",
      "refreshToken",
      "refreshTokenExpiresIn",
      "scope",
      "tokenType",
    ]);
    assert.equal(result.tokenType, "Bearer");
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${old}` }))?.code,
      75,
    );
    assert.equal(
      errorOf(
        await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${String(result.accessToken)}` }),
      ),
      undefined,
    );
  });

  it("applies a key's disabling before replying, so its tokens fail at once", async () => {
    const victim = await gw.addKey({ secret: SECRET, maxScope: ["pki:read"] });
    const token = await tokenOf(victim, ["pki:read"]);
    const params = { userId: "abc", instanceId: VALID_KEY_1, contextId: "ctx" };
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${token}` })),
      undefined,
    );
    const upd = await post(gw, rpc("user/updateApiKey", { apiKeyId: victim.apiKeyId, enabled: false }), {
      authorization: admin.basic,
    });
    assert.equal((upd.json as { result: unknown }).result, "OK");
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${token}` }))?.code,
      75,
    );
  });

  it("honours a token's ipAddr restriction against the client address", async () => {
    const params = { userId: "abc", instanceId: VALID_KEY_1, contextId: "ctx" };
    const here = await tokenOf(admin, [...ALL, "ipAddr:127.0.0.1"]);
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${here}` })),
      undefined,
    );
    const elsewhere = await tokenOf(admin, [...ALL, "ipAddr:10.1.2.3"]);
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${elsewhere}` }))?.code,
      76,
    );
    // X-Forwarded-For is not believed from a peer that is not a trusted proxy.
    const forged = await post(gw, rpc("pki/getKeyHistory", params), {
      authorization: `Bearer ${elsewhere}`,
      "x-forwarded-for": "10.1.2.3",
    });
    assert.equal(errorOf(forged)?.code, 76);
  });

  it("accepts tokens of a new signing key once auth announces the rotation", async () => {
    // Auth rotating its signing key every second.
    const rotating = await startTestSystem({
      env: { PMX_RATE_LIMIT_PER_MINUTE: "0", PMX_SIGNING_KEY_ROTATION: "1000" },
    });
    try {
      const key = await rotating.addKey({ secret: SECRET, maxScope: ALL });
      const firstKid = kidOf((await rotating.token({ apiKeyId: key.apiKeyId, secret: SECRET }, ALL)).accessToken);
      // Keys change with each period of PMX_SIGNING_KEY_ROTATION: the next period signs with the next key.
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 100));
      const fresh = (await rotating.token({ apiKeyId: key.apiKeyId, secret: SECRET }, ALL)).accessToken;
      assert.notEqual(kidOf(fresh), firstKid);
      assert.equal(
        errorOf(await post(rotating, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${fresh}` })),
        undefined,
      );
    } finally {
      await rotating.close();
    }
  });

  it("names the caller of addApiKey outside the request (the service takes its scopes from the call's authentication)", async () => {
    const res = await post(
      gw,
      rpc("user/addApiKey", { type: "secret", name: "n", clientSecret: "x".repeat(32), maxScope: ["pki:read"] }),
      { authorization: admin.basic },
    );
    const apiKeyId = (res.json as { result: { apiKeyId: string } }).result.apiKeyId;
    assert.equal((await gw.services.apikey.getApiKey({ apiKeyId })).apiKey?.name, "n");
    const call = gw.calls.findLast((c) => c.rpc === "addApiKey");
    assert.equal((call?.request as { callerScope?: string[] } | undefined)?.callerScope, undefined);
    assert.equal(call?.callerKeyId, admin.apiKeyId);
  });
});

describe("trusted proxies, public reads and rate limits", () => {
  it("uses X-Forwarded-For from a trusted proxy as the client address", async () => {
    await withTestSystem({ env: { PMX_TRUSTED_PROXIES: "127.0.0.1", PMX_RATE_LIMIT_PER_MINUTE: "0" } }, async (gw) => {
      const key = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const pair = await gw.token({ apiKeyId: key.apiKeyId, secret: SECRET }, [...ALL, "ipAddr:203.0.113.9"]);
      const res = await post(gw, rpc("pkiAdmin/listHosts", {}), {
        authorization: `Bearer ${pair.accessToken}`,
        "x-forwarded-for": "203.0.113.9",
      });
      assert.deepEqual((res.json as { result: unknown }).result, []);
      await post(gw, rpc("auth/token", { grantType: "refresh_token", refreshToken: pair.refreshToken }), {
        "x-forwarded-for": "203.0.113.9",
      });
      const issue = gw.calls.findLast((c) => c.rpc === "issueToken");
      assert.equal((issue?.request as { clientIp?: string } | undefined)?.clientIp, "203.0.113.9");
    });
  });

  it("lets anyone read pki/* when PMX_PKI_PUBLIC_READ is on, and nothing else", async () => {
    await withTestSystem({ env: { PMX_PKI_PUBLIC_READ: "true" } }, async (gw) => {
      const read = await post(
        gw,
        rpc("pki/getKeyHistory", { userId: "abc", instanceId: VALID_KEY_1, contextId: "ctx" }),
      );
      assert.deepEqual((read.json as { result: unknown }).result, []);
      assert.equal(errorOf(await post(gw, rpc("pkiAdmin/listHosts", {})))?.code, 14);
    });
  });

  it("counts anonymous IPv6 clients per /64, so rotating through the prefix gains nothing", async () => {
    await withTestSystem({ env: { PMX_TRUSTED_PROXIES: "127.0.0.1", PMX_RATE_LIMIT_PER_MINUTE: "3" } }, async (gw) => {
      const from = (addr: string, id: number) => post(gw, rpc("pki/nope", {}, id), { "x-forwarded-for": addr });
      for (let i = 1; i <= 3; i++) assert.equal((await from(`2001:db8:1:2::${i}`, i)).status, 200);
      assert.equal((await from("2001:db8:1:2:ffff:ffff:ffff:ffff", 4)).status, 429);
      // The next /64 is another client.
      assert.equal((await from("2001:db8:1:3::1", 5)).status, 200);
      // A port in the forwarded entry names the same client.
      assert.equal((await from("[2001:db8:1:2::9]:443", 6)).status, 429);
    });
  });

  it("answers a client over its rate with HTTP 429, Retry-After and -32029", async () => {
    await withTestSystem({ env: { PMX_RATE_LIMIT_PER_MINUTE: "3" } }, async (gw) => {
      for (let i = 0; i < 3; i++) assert.equal((await post(gw, rpc("pki/nope", {}, i))).status, 200);
      const res = await post(gw, rpc("pki/nope", {}, 9));
      assert.equal(res.status, 429);
      const retryAfter = Number(res.headers.get("retry-after"));
      // Requests are counted per second and held until 60 s after their second ended: at most 61 s.
      assert.ok(retryAfter >= 1 && retryAfter <= 61);
      assert.deepEqual(res.json, {
        jsonrpc: "2.0",
        id: 9,
        error: { code: -32029, message: "Too many requests", data: { retryAfter, tier: "pki", limit: 3 } },
      });
      // An authenticated key has its own bucket, separate from the address's.
      const key = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const keyed = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: key.basic });
      assert.equal(keyed.status, 200);
    });
  });
});

describe("failed authentications in the audit log (API.md section 12)", () => {
  it("one event per refusal: apikey's verdict on the credentials it checks, the gateway's on the rest", async () => {
    const gw = await startTestSystem({ env: { PMX_RATE_LIMIT_PER_MINUTE: "0" } });
    const reported: {
      from: string;
      reason: string;
      method: string;
      clientIp?: string | undefined;
      requestId?: string | undefined;
    }[] = [];
    await gw.bus.subscribe({
      subjects: [Events.requestAuthFailed.subject, Events.credentialRefused.subject],
      deliver: "all",
      handler: async (msg) => {
        const e = Events.requestAuthFailed.type.decode(msg.data);
        const from = msg.subject.endsWith(Events.credentialRefused.subject) ? "apikey" : "gateway";
        reported.push({ from, reason: e.reason, method: e.method, clientIp: e.clientIp, requestId: e.requestId });
      },
    });
    try {
      const key = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const body = JSON.stringify(rpc("pkiAdmin/listHosts", {}));
      const send = async (requestId: string, authorization: string) => {
        const res = await fetch(`${gw.url}/main`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-request-id": requestId, authorization },
          body,
        });
        return ((await res.json()) as { error?: { code: number } }).error?.code;
      };
      const signedHeader = (secret: string, nonce: string) => {
        const ts = Date.now();
        const sig = hmacSignature(secret, requestSigningPayload(ts, nonce, "POST", "/main", body));
        return `pmx-hmac-sha256 ${key.apiKeyId};1;${ts};${nonce};${sig}`;
      };
      const once = signedHeader(SECRET, "audit-n1");
      assert.equal(await send("r-ok", once), undefined);
      const codes = [
        await send("r-wrong", basic(key.apiKeyId, "x".repeat(40))),
        await send("r-badsig", signedHeader(`${SECRET}x`, "audit-n2")),
        await send("r-replay", once),
        await send("r-malformed", "Basic !!!"),
        await send("r-token", "Bearer not-a-token"),
      ];
      // The caller learns nothing of why.
      assert.deepEqual(codes, [14, 14, 14, 14, 76]);
      await new Promise((r) => setTimeout(r, 100));
      const byRequest = reported
        .map((r) => [r.requestId, r.from, r.reason, r.method, r.clientIp])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      assert.deepEqual(byRequest, [
        ["r-badsig", "apikey", "bad_signature", "signature", "127.0.0.1"],
        ["r-malformed", "gateway", "wrong_secret", "basic", "127.0.0.1"],
        ["r-replay", "apikey", "replayed_nonce", "signature", "127.0.0.1"],
        ["r-token", "gateway", "bad_token", "token", "127.0.0.1"],
        ["r-wrong", "apikey", "wrong_secret", "basic", "127.0.0.1"],
      ]);
    } finally {
      await gw.close();
    }
  });
});
