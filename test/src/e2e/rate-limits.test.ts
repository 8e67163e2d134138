import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startRedis, type TestRedis } from "@pkiserver/test-harness";
import { basic, bearer, ok, post, type RpcReply, rpcBody, WsClient } from "../support/client";
import { type Form, startForm, type TestSystem } from "../support/forms";
import { prepare, tokenFor } from "./auth.suite";

const only = (on: Record<string, number>) =>
  ["pki", "pkiadmin", "user", "audit", "auth"].map((t) => `${t}=${on[t] ?? 0}`).join(",");

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

/** Tiers, keys, addresses, batches, WebSocket and headers, the same in either form. */
function tierSuite(form: Form): void {
  describe(`${form} form: tiers, keys, addresses, batches and WebSocket`, () => {
    let sys: TestSystem;
    let admin: Record<string, string>;
    before(async () => {
      sys = await startForm(form, { PMX_RATE_LIMITS: only({ auth: 5 }), PMX_TRUSTED_PROXIES: "127.0.0.1" });
      admin = bearer((await prepare(sys)).admin.accessToken);
    });
    after(() => sys.stop());

    async function limitedKey(user: number) {
      const secret = randomBytes(24).toString("base64url");
      const { apiKeyId } = await ok<{ apiKeyId: string }>(
        sys.url,
        "user/addApiKey",
        { type: "secret", name: "tier", clientSecret: secret, maxScope: ["user:read"], rateLimits: { user } },
        admin,
      );
      return basic(apiKeyId, secret);
    }

    it("counts a key per tier with RateLimit-* headers, and refuses the next with 429 and {retryAfter, tier, limit}", async () => {
      const key = await limitedKey(2);
      const r1 = await post(sys.url, rpcBody("user/listApiKeys"), key);
      assert.deepEqual(
        [r1.status, r1.headers.get("ratelimit-limit"), r1.headers.get("ratelimit-remaining")],
        [200, "2", "1"],
      );
      assert.ok(Number(r1.headers.get("ratelimit-reset")) >= 60);
      await post(sys.url, rpcBody("user/listApiKeys"), key);
      const r3 = await post(sys.url, rpcBody("user/listApiKeys", {}, 33), key);
      assert.equal(r3.status, 429);
      const retryAfter = Number(r3.headers.get("retry-after"));
      assert.deepEqual(r3.json, {
        jsonrpc: "2.0",
        id: 33,
        error: { code: -32029, message: "Too many requests", data: { retryAfter, tier: "user", limit: 2 } },
      });
      // Another key is counted apart.
      assert.equal((await post(sys.url, rpcBody("user/listApiKeys"), await limitedKey(2))).status, 200);
    });

    it("counts anonymous auth/* callers per address", async () => {
      const from = (addr: string) =>
        post(sys.url, rpcBody("auth/forkToken", { refreshToken: "not-a-token", sessionName: "s" }), {
          "x-forwarded-for": addr,
        });
      for (let i = 0; i < 5; i++) assert.equal((await from("198.51.100.7")).status, 200);
      assert.equal((await from("198.51.100.7")).status, 429);
      assert.equal((await from("198.51.100.8")).status, 200);
    });

    it("refuses inside a batch request by request, HTTP 200 unless every one was refused", async () => {
      const key = await limitedKey(2);
      const batch = `[${[1, 2, 3].map((i) => rpcBody("user/listApiKeys", {}, i)).join(",")}]`;
      const res = await post(sys.url, batch, key);
      assert.equal(res.status, 200);
      assert.deepEqual(
        (res.json as RpcReply[]).map((r) => r.error?.code ?? 0),
        [0, 0, -32029],
      );
      const again = await post(sys.url, batch, key);
      assert.equal(again.status, 429);
    });

    it("answers a refused WebSocket request with the same error object", async () => {
      const ws = await WsClient.open(sys.url, await limitedKey(1));
      try {
        assert.ok((await ws.call("user/listApiKeys")).result);
        const refused = await ws.call("user/listApiKeys");
        assert.equal(refused.error?.code, -32029);
        assert.equal(refused.error?.message, "Too many requests");
        const data = refused.error?.data as { retryAfter: number; tier: string; limit: number };
        assert.deepEqual({ tier: data.tier, limit: data.limit }, { tier: "user", limit: 1 });
        assert.ok(data.retryAfter >= 1);
      } finally {
        ws.socket.close();
      }
    });
  });
}

/** API.md section 9 through the real gateway: per-key limits, and counters shared by replicas through Redis. */
describe("rate limits end to end", () => {
  tierSuite("embedded");
  tierSuite("distributed");

  describe("embedded form: a key's own limits", () => {
    let sys: TestSystem;
    before(async () => {
      sys = await startForm("embedded", { PMX_RATE_LIMITS: only({ pki: 1000 }) });
    });
    after(() => sys.stop());

    it("stores a key's own limits, shows the effective ones and applies them to its tokens", async () => {
      const ctx = await prepare(sys);
      const admin = bearer(ctx.admin.accessToken);
      const secret = randomBytes(24).toString("base64url");
      const { apiKeyId } = await ok<{ apiKeyId: string }>(
        sys.url,
        "user/addApiKey",
        { type: "secret", name: "limited", clientSecret: secret, maxScope: ["pki:read"], rateLimits: { pki: 3 } },
        admin,
      );
      const shown = await ok<{ apiKey: { rateLimits: unknown } }>(sys.url, "user/getApiKey", { apiKeyId }, admin);
      assert.deepEqual(shown.apiKey.rateLimits, { pki: 3, pkiadmin: 0, user: 0, audit: 0, auth: 0 });
      const t = await tokenFor(sys.url, apiKeyId, secret, ["pki:read"]);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await post(sys.url, rpcBody("pki/noSuch"), bearer(t.accessToken));
        statuses.push(r.status);
        if (i === 0) assert.equal(r.headers.get("ratelimit-limit"), "3");
      }
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      const bad = await post(sys.url, rpcBody("user/updateApiKey", { apiKeyId, rateLimits: { pki: 0 } }), admin);
      assert.equal((bad.json as { error?: { code: number } }).error?.code, -32602);
    });
  });

  describe("distributed form with three gateways sharing a redis-server", () => {
    let redis: TestRedis;
    let sys: TestSystem;
    before(async () => {
      redis = await startRedis({ controllable: true });
      sys = await startForm("distributed", { PMX_REDIS_URL: redis.url, PMX_RATE_LIMITS: only({ pki: 300 }) });
    });
    after(async () => {
      await sys.stop();
      await redis.dispose();
    });

    it("holds one limit across the replicas (within 1 %), and fails open while Redis is down", async (t) => {
      const ctx = await prepare(sys);
      const token = bearer(ctx.admin.accessToken);
      const b = await sys.startExtraGateway();
      const c = await sys.startExtraGateway();
      try {
        const urls = [sys.url, b.url, c.url];
        let accepted = 0;
        let refused = 0;
        // 900 calls spread over the three gateways, 30 at a time.
        for (let round = 0; round < 30; round++) {
          const replies = await Promise.all(
            Array.from({ length: 30 }, (_, i) => post(urls[i % 3] as string, rpcBody("pki/noSuch"), token)),
          );
          for (const r of replies) {
            if (r.status === 429) refused++;
            else accepted++;
          }
        }
        assert.ok(Math.abs(accepted - 300) <= 3, `${accepted} accepted, ${refused} refused`);

        if (redis.stop === undefined || redis.restart === undefined) {
          t.skip("this Redis server cannot be stopped by the test");
          return;
        }
        await redis.stop();
        const before = await metric(b.url, "pmx_gateway_rate_limit_store_errors_total");
        for (let i = 0; i < 10; i++) {
          assert.equal((await post(b.url, rpcBody("pki/noSuch"), token)).status, 200, "accepted while Redis is down");
        }
        assert.ok((await metric(b.url, "pmx_gateway_rate_limit_store_errors_total")) >= before + 10);
        assert.equal((await fetch(`${b.url}/ready`)).status, 200);
        await redis.restart();
        // Back: the fresh Redis counts again, so the 301st call in its window is refused.
        const deadline = Date.now() + 15_000;
        let limitedAgain = false;
        while (Date.now() < deadline && !limitedAgain) {
          const r = await post(b.url, rpcBody("pki/noSuch"), token);
          limitedAgain =
            r.headers.get("ratelimit-remaining") !== null && r.headers.get("ratelimit-remaining") !== "300";
          if (!limitedAgain) await new Promise((res) => setTimeout(res, 200));
        }
        assert.ok(limitedAgain, "counting resumed once Redis was back");
      } finally {
        await b.stop();
        await c.stop();
      }
    });
  });
});
