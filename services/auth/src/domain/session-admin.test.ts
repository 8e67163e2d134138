import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RevocationCache } from "@pkiserver/contract";
import { AppError } from "@pkiserver/kit/core";
import { type Harness, harness, SECRET } from "../testing/fixtures";
import { RevokeReason } from "./entities";
import { introspectToken } from "./introspect-token";
import { issueTokenForClient } from "./issue-token";
import { listRevocations } from "./list-revocations";
import { listSessions } from "./list-sessions";
import { refreshSession } from "./refresh-session";
import { newSessionId } from "./refresh-token";
import { issueRequestToken } from "./request-token";
import { revokeSessionById } from "./revoke-session-by-id";

const code = (c: string) => (err: unknown) => err instanceof AppError && err.code === c;
const login = (h: Harness, scope: string[] = []) =>
  issueTokenForClient(h.deps, { type: "client_credentials", clientId: h.keyOne, clientSecret: SECRET, scope });

describe("session administration and revocation lists", () => {
  it("revoking a session ends its tokens; an unknown or already ended session is 74", async () => {
    const h = await harness();
    const pair = await login(h, ["session:one"]);
    assert.deepEqual(
      (await listSessions(h.deps, h.keyOne)).map((s) => [s.id, s.name]),
      [[pair.sessionId, "one"]],
    );
    await revokeSessionById(h.deps, pair.sessionId);
    await assert.rejects(introspectToken(h.deps, pair.accessToken), code("auth.token_expired"));
    await assert.rejects(refreshSession(h.deps, pair.refreshToken, ""), code("auth.token_expired"));
    await assert.rejects(revokeSessionById(h.deps, pair.sessionId), code("auth.session_not_found"));
    await assert.rejects(revokeSessionById(h.deps, newSessionId()), code("auth.session_not_found"));
    await assert.rejects(revokeSessionById(h.deps, "garbage"), code("auth.session_not_found"));
    assert.deepEqual(await listSessions(h.deps, h.keyOne), []);
  });

  it("ends a session only for a caller holding its key's scopes (73 otherwise, the session lives on)", async () => {
    const h = await harness();
    const pair = await login(h, ["session:two"]);
    const keyScopes = (await h.deps.apikeys.getApiKey(h.keyOne))?.maxScope ?? [];
    assert.ok(keyScopes.length > 0);
    await assert.rejects(revokeSessionById(h.deps, pair.sessionId, []), code("auth.insufficient_scope"));
    assert.equal((await listSessions(h.deps, h.keyOne)).length, 1);
    await revokeSessionById(h.deps, pair.sessionId, keyScopes);
    assert.deepEqual(await listSessions(h.deps, h.keyOne), []);
  });

  it("lists revocations and rotated generations within the longest access lifetime, and no older ones", async () => {
    const h = await harness({ accessTokenLifetimeMs: 1000, refreshTokenLifetimeMs: 10_000 });
    const old = await login(h);
    await revokeSessionById(h.deps, old.sessionId);
    h.clock.advance(10_001);
    const revoked = await login(h);
    const rotated = await login(h);
    await revokeSessionById(h.deps, revoked.sessionId);
    await refreshSession(h.deps, rotated.refreshToken, "");
    const list = await listRevocations(h.deps);
    const t = h.clock.t;
    assert.deepEqual(list.revoked, [
      { sessionId: revoked.sessionId, apiKeyId: h.keyOne, revokedAt: t, tokensExpireAt: t + 1000 },
    ]);
    // Opened in the same millisecond as `revoked`, so its createdAt is one above.
    assert.deepEqual(list.generations, [
      { sessionId: rotated.sessionId, apiKeyId: h.keyOne, generation: 1, tokensExpireAt: t + 1001 },
    ]);
    assert.equal(list.maxAccessTokenLifetimeMs, 10_000);
  });

  it("lists each key's cap mark instead of the sessions the cap closed", async () => {
    const h = await harness({ accessTokenLifetimeMs: 1000 });
    const pairs = [];
    for (let i = 0; i < 19; i++) {
      pairs.push(await login(h));
      h.clock.advance(1);
    }
    const requested = pairs[18];
    assert.ok(requested);
    await revokeSessionById(h.deps, requested.sessionId);
    const list = await listRevocations(h.deps);
    assert.deepEqual(
      list.revoked.map((r) => r.sessionId),
      [requested.sessionId],
    );
    // The third session is the newest the cap closed (19 opened, 16 kept): its mark covers the first three.
    const third = await h.sessions.get(pairs[2]?.sessionId ?? "");
    assert.equal(third?.revokeReason, RevokeReason.sessionLimit);
    assert.deepEqual(list.capMarks, [
      {
        apiKeyId: h.keyOne,
        createdAt: third?.createdAt,
        sessionId: third?.id,
        tokensExpireAt: (third?.createdAt ?? 0) + 1000,
      },
    ]);
    h.clock.t = (third?.createdAt ?? 0) + 1000;
    assert.deepEqual((await listRevocations(h.deps)).capMarks, []);
  });

  it("a verifier given only the list refuses the tokens of every session the cap closed and accepts the live ones", async () => {
    const h = await harness();
    const pairs = [];
    for (let i = 0; i < 20; i++) pairs.push(await login(h));
    const cache = new RevocationCache({ now: h.clock.now });
    cache.loadSnapshot(await listRevocations(h.deps));
    const withdrawn = [];
    for (const p of pairs) withdrawn.push(cache.isWithdrawn(await h.deps.verifier.verify(p.accessToken)));
    assert.deepEqual(withdrawn, [...Array(4).fill(true), ...Array(16).fill(false)]);
  });

  it("a request token (of no session) of a key the cap closed sessions of passes the key's mark", async () => {
    const h = await harness();
    for (let i = 0; i < 20; i++) await login(h);
    const cache = new RevocationCache({ now: h.clock.now });
    cache.loadSnapshot(await listRevocations(h.deps));
    const { accessToken } = await issueRequestToken(h.deps, { apiKeyId: h.keyOne, maxScope: ["pki:read"] });
    assert.equal(cache.isWithdrawn(await h.deps.verifier.verify(accessToken)), false);
  });

  it("leaves out revocations and rotations whose tokens have all expired", async () => {
    const h = await harness({ accessTokenLifetimeMs: 1000, refreshTokenLifetimeMs: 10_000 });
    const revoked = await login(h);
    const rotated = await login(h);
    await revokeSessionById(h.deps, revoked.sessionId);
    await refreshSession(h.deps, rotated.refreshToken, "");
    h.clock.advance(1001);
    const list = await listRevocations(h.deps);
    assert.deepEqual([list.revoked, list.generations], [[], []]);
  });

  it("introspection refuses garbage (76) and returns the claims of a live token", async () => {
    const h = await harness();
    await assert.rejects(introspectToken(h.deps, "abc"), code("auth.token_invalid"));
    const pair = await login(h, ["pki:read"]);
    const claims = await introspectToken(h.deps, pair.accessToken);
    assert.deepEqual(claims.scope, ["pki:read"]);
    h.clock.advance(900_000);
    await assert.rejects(introspectToken(h.deps, pair.accessToken), code("auth.token_expired"));
  });
});
