import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withTestSystem } from "@pkiserver/testing";

const form = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body,
  });

describe("OAuth endpoints in the gateway", () => {
  it("limits each client IP on the token endpoint: HTTP 429 with Retry-After once over the rate", async () => {
    // The OAuth endpoints count in the auth tier, per client address.
    await withTestSystem({ env: { PMX_RATE_LIMITS: "pkiadmin=0,user=0,audit=0,auth=2" } }, async (gw) => {
      for (let i = 0; i < 2; i++) assert.equal((await form(gw.url, "grant_type=password")).status, 400);
      const res = await form(gw.url, "grant_type=password");
      assert.equal(res.status, 429);
      const retryAfter = Number(res.headers.get("retry-after"));
      // Counted in one-second slots over a 60 s window, so a refusal may wait up to 61 s.
      assert.ok(retryAfter >= 1 && retryAfter <= 61);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(((await res.json()) as { error: string }).error, "too_many_requests");
      // Discovery documents are not rate-limited: verifiers fetch them freely.
      assert.equal((await fetch(`${gw.url}/.well-known/oauth-authorization-server`)).status, 200);
    });
  });

  it("serves auth's signing keys as a JWKS of public Ed25519 keys only", async () => {
    await withTestSystem({}, async (gw) => {
      const res = await fetch(`${gw.url}/.well-known/jwks.json`);
      assert.equal(res.status, 200);
      const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
      assert.equal(keys.length, 1);
      assert.deepEqual(Object.keys(keys[0] ?? {}).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
      assert.equal("d" in (keys[0] ?? {}), false);
    });
  });
});
