import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit/core";
import { ALL, type Harness, harness, SECRET } from "../testing/fixtures";
import { introspectToken } from "./introspect-token";
import { issueTokenForClient } from "./issue-token";
import { inspectToken, revokeToken } from "./oauth-tokens";
import { refreshSession } from "./refresh-session";

const code = (c: string) => (err: unknown) => err instanceof AppError && err.code === c;
const login = (h: Harness, clientId = h.keyOne, scope: string[] = []) =>
  issueTokenForClient(h.deps, { type: "client_credentials", clientId, clientSecret: SECRET, scope });

describe("OAuth token introspection and revocation", () => {
  it("a live access or refresh token of the asking key is active, with its session's scope and times", async () => {
    const h = await harness({ accessTokenLifetimeMs: 60_000 });
    const pair = await login(h, h.keyOne, ["pki:read", "session:web"]);
    const access = await inspectToken(h.deps, pair.accessToken, h.keyOne);
    assert.equal(access?.tokenType, "access_token");
    assert.deepEqual(access?.claims, {
      apiKeyId: h.keyOne,
      sessionId: pair.sessionId,
      generation: 0,
      scope: ["pki:read"],
      issuedAt: h.clock.t,
      expiresAt: h.clock.t + 60_000,
      sessionCreatedAt: h.clock.t,
    });
    const refresh = await inspectToken(h.deps, pair.refreshToken, h.keyOne);
    assert.equal(refresh?.tokenType, "refresh_token");
    assert.equal(refresh?.claims.sessionId, pair.sessionId);
    assert.deepEqual(refresh?.claims.scope, ["pki:read"]);
    assert.equal(refresh?.claims.expiresAt, h.clock.t + h.deps.settings.refreshTokenLifetimeMs);
  });

  it("another key's token, garbage, an expired or rotated-away token is inactive, and inspecting has no side effect", async () => {
    const h = await harness({ accessTokenLifetimeMs: 1000 });
    const keyTwo = await h.apikey.add({ maxScope: ALL, secret: SECRET });
    const mine = await login(h);
    assert.equal(await inspectToken(h.deps, mine.accessToken, keyTwo), undefined);
    assert.equal(await inspectToken(h.deps, mine.refreshToken, keyTwo), undefined);
    for (const garbage of ["", "x", "a.b.c", `${mine.sessionId}.${"A".repeat(43)}`, `${mine.accessToken}x`]) {
      assert.equal(await inspectToken(h.deps, garbage, h.keyOne), undefined, garbage);
    }
    const next = await refreshSession(h.deps, mine.refreshToken, "");
    assert.equal(await inspectToken(h.deps, mine.accessToken, h.keyOne), undefined);
    // Inspecting a spent refresh token does not count as its reuse: the session lives on.
    assert.equal(await inspectToken(h.deps, mine.refreshToken, h.keyOne), undefined);
    assert.equal((await inspectToken(h.deps, next.refreshToken, h.keyOne))?.tokenType, "refresh_token");
    assert.deepEqual(h.events.revoked(), []);
    h.clock.advance(1001);
    assert.equal(await inspectToken(h.deps, next.accessToken, h.keyOne), undefined);
  });

  it("a refresh presented by an authenticated client must use that client's own refresh token", async () => {
    const h = await harness();
    const keyTwo = await h.apikey.add({ maxScope: ALL, secret: SECRET });
    const pair = await login(h);
    await assert.rejects(refreshSession(h.deps, pair.refreshToken, "", keyTwo), code("auth.token_invalid"));
    // Refused before rotating: the owner's tokens still work.
    assert.ok(await introspectToken(h.deps, pair.accessToken));
    const next = await refreshSession(h.deps, pair.refreshToken, "", h.keyOne);
    assert.equal(next.sessionId, pair.sessionId);
  });

  it("revoking either token of a session ends the whole session; revoking another key's token changes nothing", async () => {
    const h = await harness();
    const keyTwo = await h.apikey.add({ maxScope: ALL, secret: SECRET });
    for (const which of ["accessToken", "refreshToken"] as const) {
      const pair = await login(h);
      assert.equal(await revokeToken(h.deps, pair[which], keyTwo), undefined);
      assert.ok(await introspectToken(h.deps, pair.accessToken));
      const done = await revokeToken(h.deps, pair[which], h.keyOne);
      assert.equal(done?.session.id, pair.sessionId);
      assert.equal(done?.tokensExpireAt, h.clock.t + h.deps.settings.accessTokenLifetimeMs);
      await assert.rejects(introspectToken(h.deps, pair.accessToken), code("auth.token_expired"));
      await assert.rejects(refreshSession(h.deps, pair.refreshToken, ""), code("auth.token_expired"));
      assert.equal(await inspectToken(h.deps, pair.accessToken, h.keyOne), undefined);
      assert.equal(await inspectToken(h.deps, pair.refreshToken, h.keyOne), undefined);
      // The revocation is published as every other one is, so gateways refuse the access token at once.
      assert.deepEqual(h.events.revoked().at(-1), { id: pair.sessionId, reason: "revoked_by_request" });
      assert.equal(await revokeToken(h.deps, pair[which], h.keyOne), undefined);
    }
  });
});
