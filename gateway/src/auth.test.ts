import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Events, ed25519Sign, hmacSignature, publishEvent, requestSigningPayload } from "@pkiserver/kit";
import { post, rpc, startTestGateway, type TestGateway, TokenSigner, VALID_KEY_1 } from "./testing/fakes";

const SECRET = "CspXxVtTyE3sf6jB7z4CSjxoymuS2H67ZjNDfovTu3i8";
const ED_PRIVATE =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOBVFGaSFtfqbNvZWctFKg3k+I0T5YXRavpKAD9+BgCX\n-----END PRIVATE KEY-----";
const ED_PUBLIC =
  "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEADsSTjY2wnm1iwWamIWwLTPVhtTIb8TVlI8tts3wkhkQ=\n-----END PUBLIC KEY-----\n";
const ALL = ["user:read_write", "pki:read_write", "pkiadmin:read_write"];

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

function errorOf(res: { json: unknown }): { code: number; message: string; data: unknown } | undefined {
  return (res.json as { error?: { code: number; message: string; data: unknown } }).error;
}

async function signedPost(
  gw: TestGateway,
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
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      env: { PMX_RATE_LIMIT_PER_MINUTE: "0" },
      prepare: (f) => {
        f.revocationSnapshot = {
          revoked: [{ sessionId: "s-snap", apiKeyId: "k-admin", revokedAt: 1 }],
          generations: [],
        };
      },
    });
    gw.fakes.addKey({ apiKeyId: "k-admin", secret: SECRET, maxScope: ALL });
    gw.fakes.addKey({ apiKeyId: "k-reader", secret: SECRET, maxScope: ["pki:read"] });
    // The fake apikey service accepts this key's secret, so the gateway's own refusal shows.
    gw.fakes.addKey({ apiKeyId: "k-pub", secret: SECRET, publicKeyPem: ED_PUBLIC, maxScope: ALL });
  });
  after(async () => gw.close());

  it("refuses a protected method without credentials with 14", async () => {
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}));
    assert.deepEqual(errorOf(res), { code: 14, message: "Unauthorized", data: null });
  });

  it("lets auth/* methods through without credentials", async () => {
    const res = await post(gw, rpc("auth/createFirstApiKey", { initializationToken: "init-token", name: "first" }));
    assert.deepEqual((res.json as { result: unknown }).result, {
      apiKeyId: "first-key",
      apiKeySecret: "first-secret-first-secret-first-secret",
    });
  });

  it("accepts Basic credentials and gives the caller the key's maxScope", async () => {
    const ok = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: basic("k-admin", SECRET) });
    assert.deepEqual((ok.json as { result: unknown }).result, []);
    const reader = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: basic("k-reader", SECRET) });
    assert.deepEqual(errorOf(reader), { code: 73, message: "Insufficient scope", data: null });
  });

  it("refuses wrong or malformed Basic credentials with 14", async () => {
    for (const authorization of [basic("k-admin", "wrong"), "Basic !!!", basic("", SECRET), "Basic", "Digest abc"]) {
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
    const token = await gw.fakes.signer.mint({ apiKeyId: "k-admin", sessionId: "s-long", generation: 1, scope: ALL });
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}), {
      authorization: `Basic ${"A".repeat(9000)}`,
      "x-user-token": token,
    });
    assert.deepEqual((res.json as { result: unknown }).result, []);
  });

  it("refuses Basic credentials for a key that has a public key", async () => {
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: basic("k-pub", SECRET) });
    assert.deepEqual(errorOf(res), { code: 14, message: "Unauthorized", data: null });
  });

  it("builds the signing payload as API.md's request vector does", () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"pkiAdmin/listHosts","params":{}}';
    const payload = requestSigningPayload(1702555410352, "3xUee4EA0gr8dg==", "post", "/main", body);
    assert.equal(hmacSignature(SECRET, payload), "X62q9WMd9TP4lTSiMKUk/R9yVlw=");
  });

  it("accepts a request signed with the key's secret over the exact URI and body", async () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"pkiAdmin/listHosts","params":{}}';
    const res = await signedPost(gw, { body, keyId: "k-admin", sign: (p) => hmacSignature(SECRET, p) });
    assert.deepEqual(res.json, { jsonrpc: "2.0", id: 1, result: [] });
    const withQuery = await signedPost(gw, {
      body,
      keyId: "k-admin",
      uri: "/main?trace=1",
      sign: (p) => hmacSignature(SECRET, p),
    });
    assert.deepEqual(withQuery.json, { jsonrpc: "2.0", id: 1, result: [] });
  });

  it("accepts a request signed with the key's Ed25519 private key", async () => {
    const body = '{"jsonrpc":"2.0","id":3,"method":"pkiAdmin/listHosts","params":{}}';
    const res = await signedPost(gw, { body, keyId: "k-pub", sign: (p) => ed25519Sign(ED_PRIVATE, p) });
    assert.deepEqual(res.json, { jsonrpc: "2.0", id: 3, result: [] });
  });

  it("refuses a tampered signature, a signature over another body and a replayed nonce with 14", async () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"pkiAdmin/listHosts","params":{}}';
    const tampered = await signedPost(gw, {
      body,
      keyId: "k-admin",
      sign: (p) => hmacSignature(SECRET, p),
      tamper: (h) => `${h.slice(0, -3)}AAA`,
    });
    assert.equal(errorOf(tampered)?.code, 14);
    const otherBody = await signedPost(gw, {
      body,
      keyId: "k-admin",
      sign: (p) => hmacSignature(SECRET, Buffer.concat([p, Buffer.from(" ")])),
    });
    assert.equal(errorOf(otherBody)?.code, 14);
    const first = await signedPost(gw, {
      body,
      keyId: "k-admin",
      nonce: "once",
      sign: (p) => hmacSignature(SECRET, p),
    });
    assert.equal(errorOf(first), undefined);
    const replay = await signedPost(gw, {
      body,
      keyId: "k-admin",
      nonce: "once",
      sign: (p) => hmacSignature(SECRET, p),
    });
    assert.equal(errorOf(replay)?.code, 14);
  });

  it("accepts an access token as Bearer or X-User-Token and checks its scope", async () => {
    const token = await gw.fakes.signer.mint({
      apiKeyId: "k-admin",
      sessionId: "s-a",
      generation: 1,
      scope: ["pkiadmin:read"],
    });
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
    const stranger = await (await TokenSigner.create()).mint({
      apiKeyId: "k-admin",
      sessionId: "s",
      generation: 1,
      scope: ALL,
    });
    assert.equal(
      errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${stranger}` }))?.code,
      76,
    );
    const expired = await gw.fakes.signer.mint({
      apiKeyId: "k-admin",
      sessionId: "s",
      generation: 1,
      scope: ALL,
      issuedAtMs: Date.now() - 3_600_000,
      expiresInS: 60,
    });
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${expired}` });
    assert.deepEqual(errorOf(res), { code: 75, message: "Token is expired or has been revoked", data: null });
  });

  it("refuses tokens of sessions in auth's revocation snapshot", async () => {
    const token = await gw.fakes.signer.mint({ apiKeyId: "k-admin", sessionId: "s-snap", generation: 1, scope: ALL });
    assert.equal(
      errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${token}` }))?.code,
      75,
    );
  });

  it("refuses tokens once a revocation or rotation event arrives", async () => {
    const old = await gw.fakes.signer.mint({ apiKeyId: "k-admin", sessionId: "s-ev", generation: 1, scope: ALL });
    const current = await gw.fakes.signer.mint({ apiKeyId: "k-admin", sessionId: "s-ev", generation: 2, scope: ALL });
    assert.equal(errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${old}` })), undefined);
    await publishEvent(gw.bus, Events.sessionRotated, {
      sessionId: "s-ev",
      apiKeyId: "k-admin",
      generation: 2,
      at: Date.now(),
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${old}` }))?.code, 75);
    assert.equal(
      errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${current}` })),
      undefined,
    );
    await publishEvent(gw.bus, Events.sessionRevoked, {
      sessionId: "s-ev",
      apiKeyId: "k-admin",
      reason: "test",
      at: Date.now(),
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(
      errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${current}` }))?.code,
      75,
    );
  });

  it("applies a refresh's rotation before replying, so the old access token fails at once", async () => {
    const old = await gw.fakes.signer.mint({
      apiKeyId: "key-refresh",
      sessionId: "s77",
      generation: 1,
      scope: ["pki:read"],
    });
    const params = { userId: "abc", instanceId: VALID_KEY_1, contextId: "ctx" };
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${old}` })),
      undefined,
    );
    const refreshed = await post(gw, rpc("auth/token", { grantType: "refresh_token", refreshToken: "refresh:s77:1" }));
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
    gw.fakes.addKey({ apiKeyId: "k-victim", secret: SECRET, maxScope: ["pki:read"] });
    const token = await gw.fakes.signer.mint({
      apiKeyId: "k-victim",
      sessionId: "s-v",
      generation: 1,
      scope: ["pki:read"],
      issuedAtMs: Date.now() - 2000,
    });
    const params = { userId: "abc", instanceId: VALID_KEY_1, contextId: "ctx" };
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${token}` })),
      undefined,
    );
    const upd = await post(gw, rpc("user/updateApiKey", { apiKeyId: "k-victim", enabled: false }), {
      authorization: basic("k-admin", SECRET),
    });
    assert.equal((upd.json as { result: unknown }).result, "OK");
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${token}` }))?.code,
      75,
    );
  });

  it("honours a token's ipAddr restriction against the client address", async () => {
    const params = { userId: "abc", instanceId: VALID_KEY_1, contextId: "ctx" };
    const here = await gw.fakes.signer.mint({
      apiKeyId: "k-admin",
      sessionId: "s-ip",
      generation: 1,
      scope: ALL,
      ipAddr: "127.0.0.1",
    });
    assert.equal(
      errorOf(await post(gw, rpc("pki/getKeyHistory", params), { authorization: `Bearer ${here}` })),
      undefined,
    );
    const elsewhere = await gw.fakes.signer.mint({
      apiKeyId: "k-admin",
      sessionId: "s-ip",
      generation: 1,
      scope: ALL,
      ipAddr: "10.1.2.3",
    });
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
    const previous = gw.fakes.signer;
    gw.fakes.signer = await TokenSigner.create();
    try {
      const fresh = await gw.fakes.signer.mint({ apiKeyId: "k-admin", sessionId: "s-rot", generation: 1, scope: ALL });
      await publishEvent(gw.bus, Events.signingKeyRotated, {
        kid: gw.fakes.signer.kid,
        publicJwk: "{}",
        at: Date.now(),
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(
        errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: `Bearer ${fresh}` })),
        undefined,
      );
    } finally {
      gw.fakes.signer = previous;
    }
  });

  it("passes the caller's scopes to addApiKey and maps the reply", async () => {
    const res = await post(
      gw,
      rpc("user/addApiKey", { type: "secret", name: "n", clientSecret: "x".repeat(32), maxScope: ["pki:read"] }),
      { authorization: basic("k-admin", SECRET) },
    );
    const apiKeyId = (res.json as { result: { apiKeyId: string } }).result.apiKeyId;
    assert.match(apiKeyId, /^key-/);
    const call = gw.fakes.calls.findLast((c) => c.rpc === "addApiKey");
    assert.deepEqual((call?.request as { callerScope?: string[] } | undefined)?.callerScope, [
      "user:read",
      "user:write",
      "pki:read",
      "pki:write",
      "pkiadmin:read",
      "pkiadmin:write",
    ]);
    assert.equal(call?.callerKeyId, "k-admin");
  });
});

describe("trusted proxies, public reads and rate limits", () => {
  it("uses X-Forwarded-For from a trusted proxy as the client address", async () => {
    const gw = await startTestGateway({ env: { PMX_TRUSTED_PROXIES: "127.0.0.1", PMX_RATE_LIMIT_PER_MINUTE: "0" } });
    try {
      const token = await gw.fakes.signer.mint({
        apiKeyId: "k",
        sessionId: "s",
        generation: 1,
        scope: ALL,
        ipAddr: "203.0.113.9",
      });
      const res = await post(gw, rpc("pkiAdmin/listHosts", {}), {
        authorization: `Bearer ${token}`,
        "x-forwarded-for": "203.0.113.9",
      });
      assert.deepEqual((res.json as { result: unknown }).result, []);
      await post(gw, rpc("auth/token", { grantType: "refresh_token", refreshToken: "refresh:s1:1" }), {
        "x-forwarded-for": "203.0.113.9",
      });
      const issue = gw.fakes.calls.findLast((c) => c.rpc === "issueToken");
      assert.equal((issue?.request as { clientIp?: string } | undefined)?.clientIp, "203.0.113.9");
    } finally {
      await gw.close();
    }
  });

  it("lets anyone read pki/* when PMX_PKI_PUBLIC_READ is on, and nothing else", async () => {
    const gw = await startTestGateway({ env: { PMX_PKI_PUBLIC_READ: "true" } });
    try {
      const read = await post(
        gw,
        rpc("pki/getKeyHistory", { userId: "abc", instanceId: VALID_KEY_1, contextId: "ctx" }),
      );
      assert.deepEqual((read.json as { result: unknown }).result, []);
      assert.equal(errorOf(await post(gw, rpc("pkiAdmin/listHosts", {})))?.code, 14);
    } finally {
      await gw.close();
    }
  });

  it("counts anonymous IPv6 clients per /64, so rotating through the prefix gains nothing", async () => {
    const gw = await startTestGateway({ env: { PMX_TRUSTED_PROXIES: "127.0.0.1", PMX_RATE_LIMIT_PER_MINUTE: "3" } });
    try {
      const from = (addr: string, id: number) => post(gw, rpc("pki/nope", {}, id), { "x-forwarded-for": addr });
      for (let i = 1; i <= 3; i++) assert.equal((await from(`2001:db8:1:2::${i}`, i)).status, 200);
      assert.equal((await from("2001:db8:1:2:ffff:ffff:ffff:ffff", 4)).status, 429);
      // The next /64 is another client.
      assert.equal((await from("2001:db8:1:3::1", 5)).status, 200);
      // A port in the forwarded entry names the same client.
      assert.equal((await from("[2001:db8:1:2::9]:443", 6)).status, 429);
    } finally {
      await gw.close();
    }
  });

  it("answers a client over its rate with HTTP 429, Retry-After and -32029", async () => {
    const gw = await startTestGateway({ env: { PMX_RATE_LIMIT_PER_MINUTE: "3" } });
    try {
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
      gw.fakes.addKey({ apiKeyId: "k-rl", secret: SECRET, maxScope: ALL });
      const keyed = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: basic("k-rl", SECRET) });
      assert.equal(keyed.status, 200);
    } finally {
      await gw.close();
    }
  });
});

describe("failed authentications in the audit log (API.md section 12)", () => {
  it("leaves apikey's refusals to apikey's own verdict, telling it who asked, and reports its own", async () => {
    const gw = await startTestGateway({ env: { PMX_RATE_LIMIT_PER_MINUTE: "0" } });
    const reported: {
      reason: string;
      method: string;
      apiKeyId?: string | undefined;
      requestId?: string | undefined;
    }[] = [];
    await gw.bus.subscribe({
      subjects: [Events.requestAuthFailed.subject],
      deliver: "all",
      handler: async (msg) => {
        const e = Events.requestAuthFailed.type.decode(msg.data);
        reported.push({ reason: e.reason, method: e.method, apiKeyId: e.apiKeyId, requestId: e.requestId });
      },
    });
    try {
      gw.fakes.addKey({ apiKeyId: "k-audit", secret: SECRET, maxScope: ALL });
      gw.fakes.addKey({ apiKeyId: "k-pub", secret: SECRET, publicKeyPem: ED_PUBLIC, maxScope: ALL });
      const body = JSON.stringify(rpc("pkiAdmin/listHosts", {}));
      // apikey refuses these two: it reports them with its verdict, the gateway does not.
      assert.equal(
        errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: basic("k-audit", "x") }))?.code,
        14,
      );
      const badSig = await signedPost(gw, { body, keyId: "k-audit", sign: () => "X62q9WMd9TP4lTSiMKUk/R9yVlx=" });
      assert.equal(errorOf(badSig)?.code, 14);
      const attempts = gw.fakes.calls
        .filter((c) => c.service === "apikey" && (c.rpc === "verifySecret" || c.rpc === "verifySignature"))
        .map((c) => (c.request as { attempt?: unknown }).attempt);
      assert.deepEqual(attempts, [
        { method: "basic", clientIp: "127.0.0.1" },
        { method: "signature", clientIp: "127.0.0.1" },
      ]);
      // The gateway's own refusals: a header that names no key, and Basic for a key that signs.
      assert.equal(errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: "Basic !!!" }))?.code, 14);
      assert.equal(
        errorOf(await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: basic("k-pub", SECRET) }))?.code,
        14,
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        reported.map((r) => [r.reason, r.method, r.apiKeyId]),
        [
          ["wrong_secret", "basic", undefined],
          ["wrong_secret", "basic", "k-pub"],
        ],
      );
      assert.ok(reported.every((r) => r.requestId !== undefined && r.requestId !== ""));
    } finally {
      await gw.close();
    }
  });
});
