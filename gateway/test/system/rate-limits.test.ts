import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GatewayConfigError, loadConfig } from "@pkiserver/gateway";
import { Events } from "@pkiserver/kit";
import { post, recordEvents, rpc, startTestSystem, type TestSystem } from "@pkiserver/testing";
import WebSocket from "ws";

const SECRET = "rl-secret-rl-secret-rl-secret-rl-secret";
const ALL = ["user:read_write", "pki:read_write", "pkiadmin:read_write"];
const TIERS = ["pki", "pkiadmin", "user", "audit", "auth"] as const;
/** PMX_RATE_LIMITS with every tier off but the given ones. */
const only = (on: Partial<Record<(typeof TIERS)[number], number>> = {}) =>
  TIERS.map((t) => `${t}=${on[t] ?? 0}`).join(",");

type Reply = { id?: unknown; result?: unknown; error?: { code: number; message: string; data: unknown } };

function limits(gw: TestSystem, headers: Headers) {
  void gw;
  return {
    limit: headers.get("ratelimit-limit"),
    remaining: headers.get("ratelimit-remaining"),
    reset: headers.get("ratelimit-reset"),
  };
}

async function withGateway(env: Record<string, string>, run: (gw: TestSystem) => Promise<void>): Promise<void> {
  const gw = await startTestSystem({ env: { PMX_TRUSTED_PROXIES: "127.0.0.1", ...env } });
  try {
    await run(gw);
  } finally {
    await gw.close();
  }
}

describe("rate limits per tier and API key (API.md section 9)", () => {
  it("refuses the request over its tier's limit with 429, Retry-After and {retryAfter, tier, limit}; tiers count apart", async () => {
    await withGateway({ PMX_RATE_LIMITS: only({ user: 2 }) }, async (gw) => {
      const kTier = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const auth = { authorization: kTier.basic };
      const first = await post(gw, rpc("user/listApiKeys", {}, 1), auth);
      assert.equal(first.status, 200);
      assert.deepEqual(limits(gw, first.headers), {
        limit: "2",
        remaining: "1",
        reset: first.headers.get("ratelimit-reset"),
      });
      const reset = Number(first.headers.get("ratelimit-reset"));
      assert.ok(reset >= 60 && reset <= 61, `reset ${reset}`);
      const second = await post(gw, rpc("user/getApiKey", { apiKeyId: kTier.apiKeyId }, 2), auth);
      assert.equal(second.headers.get("ratelimit-remaining"), "0");
      const third = await post(gw, rpc("user/listApiKeys", {}, 3), auth);
      assert.equal(third.status, 429);
      const retryAfter = Number(third.headers.get("retry-after"));
      assert.ok(retryAfter >= 59 && retryAfter <= 61, `retry-after ${retryAfter}`);
      assert.deepEqual(third.json, {
        jsonrpc: "2.0",
        id: 3,
        error: { code: -32029, message: "Too many requests", data: { retryAfter, tier: "user", limit: 2 } },
      });
      assert.equal(third.headers.get("ratelimit-remaining"), "0");
      // pkiadmin is another tier, off here: counted nowhere, so no headers.
      const admin = await post(gw, rpc("pkiAdmin/listHosts", {}), auth);
      assert.equal(admin.status, 200);
      assert.equal(admin.headers.get("ratelimit-limit"), null);
    });
  });

  it("counts each API key apart and applies a key's own limits given with its credential", async () => {
    await withGateway({ PMX_RATE_LIMITS: only({ pkiadmin: 5 }) }, async (gw) => {
      const kOwn = await gw.addKey({ secret: SECRET, maxScope: ALL, rateLimits: { pkiadmin: 1 } });
      const kDefault = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const own = { authorization: kOwn.basic };
      const other = { authorization: kDefault.basic };
      const ok = await post(gw, rpc("pkiAdmin/listHosts", {}), own);
      assert.equal(ok.headers.get("ratelimit-limit"), "1");
      const refused = await post(gw, rpc("pkiAdmin/listHosts", {}), own);
      assert.equal(refused.status, 429);
      assert.deepEqual((refused.json as Reply).error?.data, {
        retryAfter: Number(refused.headers.get("retry-after")),
        tier: "pkiadmin",
        limit: 1,
      });
      for (let i = 0; i < 5; i++) assert.equal((await post(gw, rpc("pkiAdmin/listHosts", {}), other)).status, 200);
      assert.equal((await post(gw, rpc("pkiAdmin/listHosts", {}), other)).status, 429);
    });
  });

  it("applies a token's key's own limits, and a change made through this gateway at once", async () => {
    await withGateway({ PMX_RATE_LIMITS: only() }, async (gw) => {
      const kTok = await gw.addKey({ secret: SECRET, maxScope: ALL, rateLimits: { pki: 2 } });
      const kAdmin = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const { accessToken } = await gw.token({ apiKeyId: kTok.apiKeyId, secret: SECRET }, ALL);
      const bearer = { authorization: `Bearer ${accessToken}` };
      const read = () =>
        post(gw, rpc("pki/getHost", { instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH" }), bearer);
      assert.equal((await read()).headers.get("ratelimit-limit"), "2");
      await read();
      assert.equal((await read()).status, 429);
      // Another key raises k-tok's pki limit: the next read passes.
      const admin = { authorization: kAdmin.basic };
      const upd = await post(gw, rpc("user/updateApiKey", { apiKeyId: kTok.apiKeyId, rateLimits: { pki: 10 } }), admin);
      assert.equal((upd.json as Reply).result, "OK");
      const after = await read();
      assert.equal(after.status, 200);
      assert.equal(after.headers.get("ratelimit-limit"), "10");
      const shown = await post(gw, rpc("user/getApiKey", { apiKeyId: kTok.apiKeyId }), admin);
      assert.deepEqual(((shown.json as Reply).result as { apiKey: { rateLimits: unknown } }).apiKey.rateLimits, {
        pki: 10,
        pkiadmin: 0,
        user: 0,
        audit: 0,
        auth: 0,
      });
    });
  });

  it("counts anonymous callers per address (IPv6 per /64) and tier", async () => {
    await withGateway({ PMX_RATE_LIMITS: only({ auth: 2 }) }, async (gw) => {
      const key = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const { refreshToken } = await gw.token({ apiKeyId: key.apiKeyId, secret: SECRET }, ALL);
      const from = (addr: string) =>
        post(gw, rpc("auth/forkToken", { refreshToken, sessionName: "x" }), {
          "x-forwarded-for": addr,
        });
      assert.equal((await from("2001:db8:7:1::1")).status, 200);
      assert.equal((await from("2001:db8:7:1::2")).status, 200);
      const refused = await from("2001:db8:7:1:ffff::3");
      assert.equal(refused.status, 429);
      assert.equal(((refused.json as Reply).error?.data as { tier?: string } | undefined)?.tier, "auth");
      assert.equal((await from("2001:db8:7:2::1")).status, 200);
    });
  });

  it("counts auth/token failures against the clientId they named, from any address", async () => {
    await withGateway({ PMX_RATE_LIMITS: only({ auth: 3 }) }, async (gw) => {
      const kVictim = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const attempt = (addr: string, secret: string, clientId = kVictim.apiKeyId) =>
        post(gw, rpc("auth/token", { grantType: "client_credentials", clientId, clientSecret: secret, scope: [] }), {
          "x-forwarded-for": addr,
        });
      for (let i = 1; i <= 3; i++) {
        const res = await attempt(`10.0.0.${i}`, "w".repeat(40));
        assert.equal((res.json as Reply).error?.code, 12, `attempt ${i}`);
      }
      // A fresh address, even with the right secret: the clientId is exhausted.
      const blocked = await attempt("10.0.0.9", SECRET);
      assert.equal(blocked.status, 429);
      assert.equal(((blocked.json as Reply).error?.data as { tier?: string } | undefined)?.tier, "auth");
      // Successes are not counted against a clientId; another clientId is unaffected.
      const kOther = await gw.addKey({ secret: SECRET, maxScope: ALL });
      for (let i = 0; i < 3; i++) {
        assert.equal((await attempt(`10.0.1.${i}`, SECRET, kOther.apiKeyId)).status, 200);
      }
    });
  });

  it("counts and refuses each request of a batch on its own: 200 unless every one was refused", async () => {
    await withGateway({ PMX_RATE_LIMITS: only({ user: 2 }) }, async (gw) => {
      const kBatch = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const auth = { authorization: kBatch.basic };
      const batch = [
        rpc("user/listApiKeys", {}, 1),
        rpc("pkiAdmin/listHosts", {}, 2),
        rpc("user/listApiKeys", {}, 3),
        rpc("user/listApiKeys", {}, 4),
      ];
      const res = await post(gw, batch, auth);
      assert.equal(res.status, 200);
      const replies = res.json as Reply[];
      assert.deepEqual(
        replies.map((r) => r.error?.code ?? 0),
        [0, 0, 0, -32029],
      );
      assert.equal(res.headers.get("ratelimit-remaining"), "0");
      const all = await post(gw, [rpc("user/listApiKeys", {}, 5), rpc("user/listApiKeys", {}, 6)], auth);
      assert.equal(all.status, 429);
      assert.ok(Number(all.headers.get("retry-after")) >= 1);
      assert.deepEqual(
        (all.json as Reply[]).map((r) => [r.id, r.error?.code]),
        [
          [5, -32029],
          [6, -32029],
        ],
      );
    });
  });

  it("answers a refused WebSocket request with the same error object", async () => {
    await withGateway({ PMX_RATE_LIMITS: only({ user: 1 }) }, async (gw) => {
      const kWs = await gw.addKey({ secret: SECRET, maxScope: ALL });
      const ws = new WebSocket(gw.wsUrl, { headers: { authorization: kWs.basic } });
      const replies: Reply[] = [];
      const got = new Promise<void>((resolve) =>
        ws.on("message", (d: Buffer) => {
          replies.push(JSON.parse(d.toString("utf8")) as Reply);
          if (replies.length === 2) resolve();
        }),
      );
      await new Promise((r) => ws.once("open", r));
      ws.send(JSON.stringify(rpc("user/listApiKeys", {}, 1)));
      ws.send(JSON.stringify(rpc("user/listApiKeys", {}, 2)));
      await got;
      ws.close();
      const refused = replies.find((r) => r.id === 2);
      const data = refused?.error?.data as { retryAfter: number };
      assert.deepEqual(refused, {
        jsonrpc: "2.0",
        id: 2,
        error: {
          code: -32029,
          message: "Too many requests",
          data: { retryAfter: data.retryAfter, tier: "user", limit: 1 },
        },
      });
    });
  });

  it("reads PMX_RATE_LIMITS over the defaults, PMX_RATE_LIMIT_PER_MINUTE as pki's with a warning, and refuses a bad list", () => {
    const base = { PMX_APIKEY_ADDR: "127.0.0.1:1" };
    assert.deepEqual(loadConfig(base).rateLimits, { pki: 6000, pkiadmin: 600, user: 120, audit: 60, auth: 600 });
    const mixed = loadConfig({ ...base, PMX_RATE_LIMIT_PER_MINUTE: "50", PMX_RATE_LIMITS: "user=7, audit=0" });
    assert.deepEqual(mixed.rateLimits, { pki: 50, pkiadmin: 600, user: 7, audit: 0, auth: 600 });
    assert.equal(mixed.deprecations.length, 1);
    assert.match(mixed.deprecations[0] as string, /PMX_RATE_LIMIT_PER_MINUTE is deprecated/);
    assert.equal(loadConfig({ ...base, PMX_RATE_LIMIT_PER_MINUTE: "50", PMX_RATE_LIMITS: "pki=9" }).rateLimits.pki, 9);
    for (const bad of ["pki", "pki=-1", "foo=1", "pki=1x", "pki=1000001", "pki=1,pki=2"]) {
      assert.throws(
        () => loadConfig({ ...base, PMX_RATE_LIMITS: bad }),
        (e: unknown) => e instanceof GatewayConfigError && e.problems.some((p) => p.startsWith("PMX_RATE_LIMITS")),
        bad,
      );
    }
  });
});

describe("rate-limit refusals in the audit log (API.md section 12)", () => {
  it("publishes one ratelimit.refused event per client, tier and minute, with the count", async () => {
    const gw = await startTestSystem({
      env: { PMX_TRUSTED_PROXIES: "127.0.0.1", PMX_RATE_LIMITS: only({ user: 1 }) },
    });
    const seen = await recordEvents(gw.bus, Events.rateLimitRefused, (e) => ({
      client: e.client,
      tier: e.tier,
      count: e.count,
    }));
    const kAuditRl = await gw.addKey({ secret: SECRET, maxScope: ALL });
    try {
      const auth = { authorization: kAuditRl.basic };
      const codes: unknown[] = [];
      for (let i = 0; i < 4; i++)
        codes.push(((await post(gw, rpc("user/listApiKeys", {}, i), auth)).json as Reply).error?.code);
      assert.deepEqual(codes, [undefined, -32029, -32029, -32029]);
    } finally {
      // Closing flushes the minute that is still open.
      await gw.app.close();
    }
    assert.deepEqual(seen, [{ client: `key:${kAuditRl.apiKeyId}`, tier: "user", count: 3 }]);
    await gw.close().catch(() => undefined);
  });
});
