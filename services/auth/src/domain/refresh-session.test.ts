import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit/core";
import { type Harness, harness, SECRET } from "../testing/fixtures";
import { RevokeReason } from "./entities";
import { introspectToken } from "./introspect-token";
import { issueTokenForClient } from "./issue-token";
import { refreshSession } from "./refresh-session";

const code = (c: string) => (err: unknown) => err instanceof AppError && err.code === c;
const login = (h: Harness, scope: string[] = []) =>
  issueTokenForClient(h.deps, { type: "client_credentials", clientId: h.keyOne, clientSecret: SECRET, scope });

describe("refresh rotation", () => {
  it("the new pair replaces the old: old access and refresh tokens stop working at once", async () => {
    const h = await harness();
    const first = await login(h);
    h.clock.advance(60_000);
    const second = await refreshSession(h.deps, first.refreshToken, "");
    assert.equal(second.sessionId, first.sessionId);
    assert.equal(second.generation, 1);
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.equal((await introspectToken(h.deps, second.accessToken)).generation, 1);
    await assert.rejects(introspectToken(h.deps, first.accessToken), code("auth.token_expired"));
    const rotated = h.events.log.find((e) => e.type === "rotated");
    assert.equal(rotated?.type === "rotated" && rotated.session.generation, 1);
  });

  it("the session's expiry slides to now + refresh lifetime on each refresh", async () => {
    const h = await harness();
    const first = await login(h);
    h.clock.advance(5 * 86_400_000);
    const second = await refreshSession(h.deps, first.refreshToken, "");
    assert.equal(second.refreshTokenExpiresIn, 604_800_000);
    assert.equal((await h.sessions.get(first.sessionId))?.expiresAt, h.clock.t + 604_800_000);
    h.clock.advance(6 * 86_400_000);
    assert.equal((await refreshSession(h.deps, second.refreshToken, "")).generation, 2);
  });

  it("presenting a rotated refresh token again revokes the whole session (75)", async () => {
    const h = await harness();
    const first = await login(h);
    const second = await refreshSession(h.deps, first.refreshToken, "");
    await assert.rejects(refreshSession(h.deps, first.refreshToken, ""), code("auth.token_expired"));
    assert.deepEqual(h.events.revoked(), [{ id: first.sessionId, reason: RevokeReason.reuse }]);
    await assert.rejects(refreshSession(h.deps, second.refreshToken, ""), code("auth.token_expired"));
    await assert.rejects(introspectToken(h.deps, second.accessToken), code("auth.token_expired"));
  });

  it("reuse is detected at any depth: the first token presented after 10,000 rotations revokes the session", async () => {
    const h = await harness();
    const first = await login(h);
    let current = first;
    for (let i = 0; i < 10_000; i++) current = await refreshSession(h.deps, current.refreshToken, "");
    assert.equal(current.generation, 10_000);
    await assert.rejects(refreshSession(h.deps, first.refreshToken, ""), code("auth.token_expired"));
    await assert.rejects(refreshSession(h.deps, current.refreshToken, ""), code("auth.token_expired"));
    assert.deepEqual(h.events.revoked(), [{ id: first.sessionId, reason: RevokeReason.reuse }]);
  });

  it("concurrent refreshes with one token: one pair is issued, the rest count as reuse and end the session", async () => {
    const h = await harness();
    const first = await login(h);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => refreshSession(h.deps, first.refreshToken, "")),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    assert.equal(ok.length, 1);
    for (const r of results) if (r.status === "rejected") assert.ok(code("auth.token_expired")(r.reason));
    assert.ok((await h.sessions.get(first.sessionId))?.revokedAt !== undefined);
  });

  it("garbage is 76; an expired or revoked session's token is 75", async () => {
    const h = await harness();
    for (const garbage of ["", "abc", "x".repeat(1024), `${"A".repeat(22)}.${"B".repeat(43)}`]) {
      await assert.rejects(refreshSession(h.deps, garbage, ""), code("auth.token_invalid"));
    }
    await assert.rejects(refreshSession(h.deps, "x".repeat(1025), ""), code("rpc.invalid_params"));
    const first = await login(h);
    const forged = `${first.sessionId}.${"B".repeat(43)}`;
    await assert.rejects(refreshSession(h.deps, forged, ""), code("auth.token_invalid"));
    h.clock.advance(604_800_000);
    await assert.rejects(refreshSession(h.deps, first.refreshToken, ""), code("auth.token_expired"));
    const other = await login(h);
    await h.sessions.revoke(other.sessionId, RevokeReason.requested, h.clock.t);
    await assert.rejects(refreshSession(h.deps, other.refreshToken, ""), code("auth.token_expired"));
  });

  it("an ipAddr-bound session refreshes only from that IP, however the address is written", async () => {
    const h = await harness();
    const pair = await login(h, ["pki:read", "ipAddr:2001:db8::7"]);
    await assert.rejects(refreshSession(h.deps, pair.refreshToken, "2001:db8::8"), code("auth.token_invalid"));
    await assert.rejects(refreshSession(h.deps, pair.refreshToken, ""), code("auth.token_invalid"));
    const next = await refreshSession(h.deps, pair.refreshToken, "2001:DB8:0:0:0:0:0:7");
    assert.equal((await h.deps.verifier.verify(next.accessToken)).ipAddr, "2001:db8::7");
    const v4 = await login(h, ["ipAddr:10.0.0.1"]);
    assert.ok(await refreshSession(h.deps, v4.refreshToken, "::ffff:10.0.0.1"));
  });

  it("a key deleted, disabled or narrowed since the grant makes refresh fail with 75 and ends the session", async () => {
    const h = await harness();
    const narrowed = await login(h, ["user:write"]);
    await h.apikey.update(h.keyOne, { maxScope: ["pki:read", "user:read"] });
    await assert.rejects(refreshSession(h.deps, narrowed.refreshToken, ""), code("auth.token_expired"));
    const kept = await login(h, ["pki:read"]);
    await h.apikey.update(h.keyOne, { enabled: false });
    await assert.rejects(refreshSession(h.deps, kept.refreshToken, ""), code("auth.token_expired"));
    await h.apikey.update(h.keyOne, { enabled: true });
    await assert.rejects(refreshSession(h.deps, kept.refreshToken, ""), code("auth.token_expired"));
    assert.deepEqual(
      h.events.revoked().map((r) => r.reason),
      [RevokeReason.scopeNarrowed, RevokeReason.apiKeyDisabled],
    );
  });
});
