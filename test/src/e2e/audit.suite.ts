import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, it } from "node:test";
import type { AuditEvent } from "@pkiserver/audit";
import { AUDIT_COLLECTION } from "@pkiserver/audit";
import { connectMongo, grantSigningPayload, hmacSignature, requestSigningPayload } from "@pkiserver/kit";
import { basic, bearer, call, errCode, ok, post, signed } from "../support/client";
import { randomPubKey } from "../support/keys";
import { pollUntil } from "../support/wait";
import { type Ctx, type TokenResult, tokenFor, usedSecrets } from "./auth.suite";

interface Page {
  events: AuditEvent[];
  nextCursor?: string;
}

/** Polls until `probe` returns something; events travel through the bus before they are recorded. */
const eventually = <T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000) =>
  pollUntil(what, probe, ms, 100);

/** API.md section 12: the audit log, end to end through the gateway. */
export function auditSuite(ctx: () => Ctx): void {
  const url = () => ctx().sys.url;
  let h: Record<string, string>;
  let key: { apiKeyId: string; secret: string };
  let started: number;

  const list = (params: Record<string, unknown>) => ok<Page>(url(), "audit/listEvents", params, h);
  const find = (params: Record<string, unknown>, pred: (e: AuditEvent) => boolean) =>
    eventually(`an event matching ${JSON.stringify(params)}`, async () => (await list(params)).events.find(pred));
  const exportEvents = (query: string, headers: Record<string, string>) =>
    fetch(`${url()}/audit/export${query}`, { headers });

  before(async () => {
    started = Date.now();
    // The first key's maxScope includes audit:read, so its token (whole maxScope) holds it.
    assert.ok(ctx().admin.scope.includes("audit:read"));
    h = bearer(ctx().admin.accessToken);
    const secret = randomBytes(24).toString("base64url");
    usedSecrets.add(secret);
    const { apiKeyId } = await ok<{ apiKeyId: string }>(
      url(),
      "user/addApiKey",
      { type: "secret", name: "audit-subject", clientSecret: secret, maxScope: ["pki:read", "pkiadmin:read_write"] },
      h,
    );
    key = { apiKeyId, secret };
  });

  it("records the creation of an API key, found by its key id", async () => {
    const e = await find({ types: ["apikey.created"], apiKeyId: key.apiKeyId }, (x) => x.target === key.apiKeyId);
    assert.equal(e.outcome, "ok");
    assert.equal(e.details.name, "audit-subject");
    assert.deepEqual(e.details.maxScope, ["pki:read", "pkiadmin:read", "pkiadmin:write"]);
    // Who did it, and in which request.
    assert.equal(e.actor.apiKeyId, ctx().firstKey.apiKeyId);
    assert.ok(e.requestId);
    assert.ok(e.time >= started - 1000 && e.time <= Date.now());
  });

  it("records a failed grant with its reason and the client's address, refused as denied", async () => {
    const wrong = randomBytes(24).toString("base64url");
    const reply = await call(url(), "auth/token", {
      grantType: "client_credentials",
      clientId: key.apiKeyId,
      clientSecret: wrong,
      scope: [],
    });
    assert.ok(reply.error);
    const e = await find(
      { types: ["auth.failed"], apiKeyId: key.apiKeyId },
      (x) => x.details.method === "client_credentials",
    );
    assert.equal(e.outcome, "denied");
    assert.equal(e.details.reason, "wrong_secret");
    assert.equal(e.actor.apiKeyId, key.apiKeyId);
    assert.ok(e.actor.ip, "the client's address is recorded");
    assert.ok(!JSON.stringify(e).includes(wrong), "the presented secret is not recorded");

    const unknown = `key-${randomBytes(6).toString("hex")}`;
    await call(url(), "auth/token", {
      grantType: "client_credentials",
      clientId: unknown,
      clientSecret: wrong,
      scope: [],
    });
    const u = await find({ types: ["auth.failed"], apiKeyId: unknown }, () => true);
    assert.equal(u.details.reason, "unknown_key");
  });

  it("records a request refused at the gateway with its request id", async () => {
    const requestId = `audit-${randomBytes(6).toString("hex")}`;
    const res = await post(
      url(),
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "pki/getHost", params: { instanceId: randomPubKey() } }),
      { "x-request-id": requestId, ...basic(key.apiKeyId, randomBytes(24).toString("base64url")) },
    );
    assert.equal((res.json as { error: { code: number } }).error.code, 14);
    const e = await find({ types: ["auth.failed"], apiKeyId: key.apiKeyId }, (x) => x.requestId === requestId);
    assert.equal(e.details.method, "basic");
    assert.equal(e.details.reason, "wrong_secret");

    // A signed request whose timestamp is outside the window is refused for that reason.
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 2,
      method: "pki/getHost",
      params: { instanceId: randomPubKey() },
    });
    const staleId = `audit-${randomBytes(6).toString("hex")}`;
    const stale = await post(url(), body, {
      "x-request-id": staleId,
      ...signed(key.apiKeyId, { secret: key.secret }, body, { timestamp: Date.now() - 3_600_000 }),
    });
    assert.equal((stale.json as { error: { code: number } }).error.code, 14);
    const s = await find({ types: ["auth.failed"], apiKeyId: key.apiKeyId }, (x) => x.requestId === staleId);
    assert.equal(s.details.method, "signature");
    assert.equal(s.details.reason, "stale_timestamp");
  });

  it("records apikey's verdict on each refused credential, once, while the caller is answered alike", async () => {
    const secret = randomBytes(24).toString("base64url");
    usedSecrets.add(secret);
    const { apiKeyId } = await ok<{ apiKeyId: string }>(
      url(),
      "user/addApiKey",
      { type: "secret", name: "audit-verdicts", clientSecret: secret, maxScope: ["pki:read"] },
      h,
    );
    const rid = () => `verdict-${randomBytes(6).toString("hex")}`;
    const expected: { requestId: string; reason: string; method: string; keyId: string }[] = [];
    const codes: number[] = [];
    /** A request to /main with these credentials; apikey refuses it and says why only to the audit log. */
    const request = async (
      reason: string,
      method: string,
      keyId: string,
      headers: Record<string, string>,
      body: string,
    ) => {
      const requestId = rid();
      const res = await fetch(`${url()}/main`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": requestId, ...headers },
        body,
      });
      codes.push(((await res.json()) as { error: { code: number } }).error.code);
      expected.push({ requestId, reason, method, keyId });
    };
    const grant = async (reason: string, keyId: string, params: Record<string, unknown>) => {
      const requestId = rid();
      const reply = await call(
        url(),
        "auth/token",
        { clientId: keyId, scope: [], ...params },
        { "x-request-id": requestId },
      );
      codes.push((reply.error as { code: number }).code);
      expected.push({ requestId, reason, method: params.grantType as string, keyId });
    };
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "pki/getHost",
      params: { instanceId: randomPubKey() },
    });

    // A signed request, then the very same request again: a replayed nonce.
    const once = signed(apiKeyId, { secret }, body);
    const first = await fetch(`${url()}/main`, {
      method: "POST",
      headers: { "content-type": "application/json", ...once },
      body,
    });
    assert.notEqual(((await first.json()) as { error?: { code: number } }).error?.code, 14);
    await request("replayed_nonce", "signature", apiKeyId, once, body);
    await request("bad_signature", "signature", apiKeyId, signed(apiKeyId, { secret: `${secret}x` }, body), body);
    await request("wrong_secret", "basic", apiKeyId, basic(apiKeyId, `${secret}x`), body);
    // A grant signed twice with one nonce.
    const ts = Date.now();
    const sig = hmacSignature(secret, grantSigningPayload(ts, "verdict-n1", undefined));
    const signedGrant = { grantType: "client_signature", timestamp: ts, nonce: "verdict-n1", signature: sig };
    const t = await ok<TokenResult>(url(), "auth/token", { ...signedGrant, clientId: apiKeyId, scope: [] });
    usedSecrets.add(t.accessToken);
    usedSecrets.add(t.refreshToken);
    await grant("replayed_nonce", apiKeyId, signedGrant);

    // Rotated with no grace period: the old secret is an expired credential.
    const newer = randomBytes(24).toString("base64url");
    usedSecrets.add(newer);
    await ok(url(), "user/rotateApiKey", { apiKeyId, clientSecret: newer, gracePeriod: 0 }, h);
    await request("expired_key", "basic", apiKeyId, basic(apiKeyId, secret), body);
    await grant("expired_key", apiKeyId, { grantType: "client_credentials", clientSecret: secret });
    // Disabled: the right secret is refused for that.
    await ok(url(), "user/updateApiKey", { apiKeyId, enabled: false }, h);
    await request("disabled_key", "basic", apiKeyId, basic(apiKeyId, newer), body);
    await grant("disabled_key", apiKeyId, { grantType: "client_credentials", clientSecret: newer });
    const unknown = `key-${randomBytes(6).toString("hex")}`;
    await request("unknown_key", "basic", unknown, basic(unknown, newer), body);
    await grant("unknown_key", unknown, { grantType: "client_credentials", clientSecret: newer });

    // The caller learns nothing of the reason: 14 for every request, 12 for every grant of a known key.
    assert.deepEqual(
      codes,
      expected.map((e) =>
        e.method === "basic" || e.method === "signature" ? 14 : e.reason === "unknown_key" ? 71 : 12,
      ),
    );
    for (const want of expected) {
      const e = await find({ types: ["auth.failed"], apiKeyId: want.keyId }, (x) => x.requestId === want.requestId);
      assert.deepEqual(
        { reason: e.details.reason, method: e.details.method, key: e.actor.apiKeyId, outcome: e.outcome },
        { reason: want.reason, method: want.method, key: want.keyId, outcome: "denied" },
        want.requestId,
      );
      assert.ok(e.actor.ip, "the client's address is recorded");
    }
    // One event per refusal: neither the gateway nor auth reports apikey's refusals again.
    await new Promise((r) => setTimeout(r, 500));
    for (const keyId of [apiKeyId, unknown]) {
      const all = (await list({ types: ["auth.failed"], apiKeyId: keyId, limit: 1000 })).events;
      const ids = all.map((e) => e.requestId).filter((r) => r?.startsWith("verdict-"));
      assert.equal(ids.length, new Set(ids).size, "one auth.failed per refused request");
      assert.equal(ids.length, expected.filter((e) => e.keyId === keyId).length);
    }
  });

  it("records pki writes", async () => {
    const t: TokenResult = await tokenFor(url(), key.apiKeyId, key.secret);
    const pub = randomPubKey();
    await ok(url(), "pkiAdmin/setHost", { hostPubKey: pub, hostUrl: "https://audit.example" }, bearer(t.accessToken));
    const e = await find({ types: ["pki.host_set"] }, (x) => x.target === pub);
    assert.deepEqual(e.details.addresses, ["https://audit.example"]);
    assert.equal(e.actor.apiKeyId, key.apiKeyId);
    await ok(
      url(),
      "pkiAdmin/addHostUrl",
      { instanceId: pub, hostUrl: "https://b.audit.example" },
      bearer(t.accessToken),
    );
    const added = await find({ types: ["pki.host_url_added"] }, (x) => x.target === pub);
    assert.equal(added.details.url, "https://b.audit.example");
    // The grant that opened the session is on record too, and so is a fork of it.
    await find({ types: ["session.opened"], apiKeyId: key.apiKeyId }, (x) => x.actor.apiKeyId === key.apiKeyId);
    const fork = await ok<{ refreshToken: string; accessToken: string }>(url(), "auth/forkToken", {
      refreshToken: t.refreshToken,
      sessionName: "audit-fork",
    });
    usedSecrets.add(fork.accessToken);
    usedSecrets.add(fork.refreshToken);
    const forked = await find(
      { types: ["session.forked"], apiKeyId: key.apiKeyId },
      (x) => x.details.name === "audit-fork",
    );
    const opened = await list({ types: ["session.opened"], apiKeyId: key.apiKeyId });
    assert.ok(opened.events.some((o) => o.target === forked.details.family));
  });

  it("lists newest first, one page at a time, with an opaque cursor that ends", async () => {
    await find({ types: ["apikey.created"], apiKeyId: key.apiKeyId }, () => true);
    const all = await list({ limit: 1000 });
    assert.ok(all.events.length >= 3);
    for (let i = 1; i < all.events.length; i++) {
      assert.ok((all.events[i - 1] as AuditEvent).time >= (all.events[i] as AuditEvent).time, "newest first");
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 3; n++) {
      const page = await list({ limit: 1, ...(cursor ? { cursor } : {}) });
      assert.equal(page.events.length, 1);
      seen.push((page.events[0] as AuditEvent).id);
      cursor = page.nextCursor;
      assert.ok(cursor);
    }
    assert.deepEqual(
      seen,
      all.events.slice(0, 3).map((e) => e.id),
    );
    const one = await list({ types: ["apikey.created"], apiKeyId: key.apiKeyId, limit: 1000 });
    assert.equal(one.nextCursor, undefined);
    assert.ok(one.events.every((e) => e.type === "apikey.created"));
    const none = await list({ from: Date.now() + 3_600_000 });
    assert.deepEqual(none, { events: [] });
  });

  it("validates params with -32602 and the field's path", async () => {
    const code = async (params: unknown) => (await errCode(url(), "audit/listEvents", params, h)).code;
    assert.equal(await code({ limit: 0 }), -32602);
    assert.equal(await code({ limit: 1001 }), -32602);
    assert.equal(await code({ types: ["apikey.nope"] }), -32602);
    assert.equal(await code({ from: 10, to: 5 }), -32602);
    assert.equal(await code({ cursor: "not-a-cursor" }), -32602);
    assert.equal(await code({ extra: 1 }), -32602);
  });

  it("needs audit:read: 73 without it, 14 without credentials", async () => {
    const t = await tokenFor(url(), key.apiKeyId, key.secret);
    assert.equal((await errCode(url(), "audit/listEvents", {}, bearer(t.accessToken))).code, 73);
    assert.equal((await errCode(url(), "audit/listEvents", {}, {})).code, 14);
  });

  it("exports matching events oldest first as NDJSON, with the credentials of /main", async () => {
    await find({ types: ["apikey.created"], apiKeyId: key.apiKeyId }, () => true);
    const res = await exportEvents("?types=apikey.created,pki.host_set", h);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/x-ndjson/);
    const text = await res.text();
    assert.ok(text.endsWith("\n"));
    const events = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditEvent);
    assert.ok(events.some((e) => e.type === "apikey.created" && e.target === key.apiKeyId));
    assert.ok(events.every((e) => e.type === "apikey.created" || e.type === "pki.host_set"));
    for (let i = 1; i < events.length; i++) {
      assert.ok((events[i - 1] as AuditEvent).time <= (events[i] as AuditEvent).time, "oldest first");
    }
    // Basic credentials of the first key, and a signed request, work as on /main.
    const first = ctx().firstKey;
    const viaBasic = await exportEvents("?types=apikey.first_created", basic(first.apiKeyId, first.apiKeySecret));
    assert.equal(viaBasic.status, 200);
    const firstCreated = (await viaBasic.text()).trim().split("\n");
    assert.equal(firstCreated.length, 1);
    assert.equal((JSON.parse(firstCreated[0] as string) as AuditEvent).target, first.apiKeyId);
    const uri = `/audit/export?from=${started}`;
    const ts = Date.now();
    const nonce = randomBytes(12).toString("base64");
    const sig = hmacSignature(first.apiKeySecret, requestSigningPayload(ts, nonce, "GET", uri, Buffer.alloc(0)));
    const viaSignature = await fetch(`${url()}${uri}`, {
      headers: { authorization: `pmx-hmac-sha256 ${first.apiKeyId};1;${ts};${nonce};${sig}` },
    });
    assert.equal(viaSignature.status, 200);
    assert.ok((await viaSignature.text()).split("\n").every((l) => l === "" || JSON.parse(l).time >= started));
  });

  it("export: HTTP 401 without credentials, 403 without audit:read, 400 for an unknown type", async () => {
    assert.equal((await exportEvents("", {})).status, 401);
    assert.equal((await exportEvents("", bearer("not-a-token"))).status, 401);
    const t = await tokenFor(url(), key.apiKeyId, key.secret);
    assert.equal((await exportEvents("", bearer(t.accessToken))).status, 403);
    assert.equal((await exportEvents("?types=nope", h)).status, 400);
  });

  it("never records a secret, token or signature", async () => {
    const res = await exportEvents("", h);
    const text = await res.text();
    assert.ok(text.length > 0);
    for (const s of usedSecrets) assert.ok(!text.includes(s), "a secret or token of this run is in the audit log");
    assert.ok(!text.includes(ctx().firstKey.apiKeySecret));
    assert.ok(!/"(secret|clientSecret|accessToken|refreshToken|signature|token)":/.test(text), "no credential field");
    const where = ctx().sys.mongo;
    if (where) {
      // The stored documents themselves, not only what the API shows of them.
      const mongo = await connectMongo(where.url, where.db);
      try {
        const docs = await mongo.db.collection(AUDIT_COLLECTION).find({}).toArray();
        assert.ok(docs.length > 0);
        const stored = JSON.stringify(docs);
        for (const s of usedSecrets) assert.ok(!stored.includes(s), "a secret or token of this run is stored");
        assert.ok(!stored.includes(ctx().firstKey.apiKeySecret));
        assert.ok(!/"(secret|clientSecret|accessToken|refreshToken|signature|token|sealedSecret)":/.test(stored));
      } finally {
        await mongo.close();
      }
    }
  });
}
