import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit/core";
import { type Harness, harness, SECRET } from "../testing/fixtures";
import { RevokeReason } from "./entities";
import { forkToken } from "./fork-token";
import { introspectToken } from "./introspect-token";
import { issueTokenForClient } from "./issue-token";
import { refreshSession } from "./refresh-session";

const code = (c: string) => (err: unknown) => err instanceof AppError && err.code === c;
const login = (h: Harness, scope: string[] = []) =>
  issueTokenForClient(h.deps, { type: "client_credentials", clientId: h.keyOne, clientSecret: SECRET, scope });

describe("sessions: cap, names, forks", () => {
  it("opening a 17th session of a key closes the oldest, whose tokens then fail with 75", async () => {
    const h = await harness();
    const pairs = [];
    for (let i = 0; i < 16; i++) {
      pairs.push(await login(h));
      h.clock.advance(1);
    }
    assert.deepEqual(h.events.revoked(), []);
    const oldest = pairs[0];
    assert.ok(oldest);
    await login(h);
    assert.deepEqual(h.events.revoked(), [{ id: oldest.sessionId, reason: RevokeReason.sessionLimit }]);
    assert.equal((await h.sessions.listLive(h.keyOne, h.clock.t)).length, 16);
    await assert.rejects(refreshSession(h.deps, oldest.refreshToken, ""), code("auth.token_expired"));
    await assert.rejects(introspectToken(h.deps, oldest.accessToken), code("auth.token_expired"));
    assert.ok(await refreshSession(h.deps, pairs[1]?.refreshToken ?? "", ""));
  });

  it("requesting an existing session name for the same key replaces that session", async () => {
    const h = await harness();
    const first = await login(h, ["session:ci"]);
    const other = await login(h, ["session:laptop"]);
    h.clock.advance(1);
    const second = await login(h, ["session:ci"]);
    assert.equal(second.sessionName, "ci");
    assert.deepEqual(h.events.revoked(), [{ id: first.sessionId, reason: RevokeReason.replaced }]);
    await assert.rejects(refreshSession(h.deps, first.refreshToken, ""), code("auth.token_expired"));
    assert.ok(await refreshSession(h.deps, other.refreshToken, ""));
    assert.ok(await refreshSession(h.deps, second.refreshToken, ""));
  });

  it("a fork opens a named session with the source's scope, IP binding and access lifetime; the source is untouched", async () => {
    const h = await harness();
    const source = await login(h, ["pki:read", "user:read", "ipAddr:10.9.8.7", "expiresIn:120000"]);
    const fork = await forkToken(h.deps, source.refreshToken, "worker", "10.9.8.7");
    assert.notEqual(fork.sessionId, source.sessionId);
    assert.equal(fork.sessionName, "worker");
    assert.deepEqual(fork.scope, ["user:read", "pki:read"]);
    assert.equal(fork.accessTokenExpiresIn, 120_000);
    const claims = await introspectToken(h.deps, fork.accessToken);
    assert.equal(claims.ipAddr, "10.9.8.7");
    assert.equal(claims.expiresAt - claims.issuedAt, 120_000);
    await assert.rejects(refreshSession(h.deps, fork.refreshToken, "10.9.8.6"), code("auth.token_invalid"));
    assert.equal((await introspectToken(h.deps, source.accessToken)).generation, 0);
    assert.equal((await refreshSession(h.deps, source.refreshToken, "10.9.8.7")).generation, 1);
  });

  it("forking with a rotated refresh token is reuse: the source session is revoked and the answer is 75", async () => {
    const h = await harness();
    const source = await login(h);
    const rotated = await refreshSession(h.deps, source.refreshToken, "");
    await assert.rejects(forkToken(h.deps, source.refreshToken, "x", ""), code("auth.token_expired"));
    await assert.rejects(refreshSession(h.deps, rotated.refreshToken, ""), code("auth.token_expired"));
    await assert.rejects(forkToken(h.deps, "nonsense", "x", ""), code("auth.token_invalid"));
  });

  it("forks join the source's family: reuse of any family member's spent token revokes source, forks and forks of forks", async () => {
    const h = await harness();
    const source = await login(h);
    const fork = await forkToken(h.deps, source.refreshToken, "a", "");
    const forkOfFork = await forkToken(h.deps, fork.refreshToken, "b", "");
    const stranger = await login(h);
    const rotatedFork = await refreshSession(h.deps, forkOfFork.refreshToken, "");
    await assert.rejects(refreshSession(h.deps, forkOfFork.refreshToken, ""), code("auth.token_expired"));
    assert.deepEqual(
      h.events
        .revoked()
        .map((r) => r.id)
        .sort(),
      [source.sessionId, fork.sessionId, forkOfFork.sessionId].sort(),
    );
    for (const t of [source, fork, rotatedFork]) {
      await assert.rejects(refreshSession(h.deps, t.refreshToken, ""), code("auth.token_expired"));
      await assert.rejects(introspectToken(h.deps, t.accessToken), code("auth.token_expired"));
    }
    assert.ok(await refreshSession(h.deps, stranger.refreshToken, ""), "another family is untouched");
  });

  it("a fork opened while its family is being revoked for reuse does not survive it", async () => {
    const h = await harness();
    const source = await login(h);
    // The family is revoked after the fork found its source live and before it was stored.
    const open = h.sessions.open.bind(h.sessions);
    h.sessions.open = async (session, max, now) => {
      await h.sessions.revokeFamily(source.sessionId, RevokeReason.reuse, now);
      return open(session, max, now);
    };
    await assert.rejects(forkToken(h.deps, source.refreshToken, "late", ""), code("auth.token_expired"));
    const live = await h.sessions.listLive(h.keyOne, h.clock.t);
    assert.deepEqual(live, []);
  });

  it("a fork may not take its source's name (-32602): it would close its own source", async () => {
    const h = await harness();
    const source = await login(h, ["pki:read", "session:worker"]);
    await assert.rejects(forkToken(h.deps, source.refreshToken, "worker", ""), code("rpc.invalid_params"));
    assert.ok(await refreshSession(h.deps, source.refreshToken, ""), "the source is untouched");
  });

  it("a fork from another IP than the source's binding is refused", async () => {
    const h = await harness();
    const source = await login(h, ["ipAddr:10.0.0.1"]);
    await assert.rejects(forkToken(h.deps, source.refreshToken, "x", "10.0.0.2"), code("auth.token_invalid"));
  });

  it("the session opened last replaces a same-named one even when opened in the same millisecond or on a clock behind", async () => {
    const h = await harness();
    let current = await login(h, ["session:ci"]);
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 2) h.clock.advance(-2000);
      const next = await login(h, ["session:ci"]);
      const live = await h.sessions.listLive(h.keyOne, h.clock.t);
      assert.deepEqual(
        live.map((s) => s.id),
        [next.sessionId],
      );
      assert.equal((await h.sessions.get(current.sessionId))?.revokeReason, RevokeReason.replaced);
      assert.ok(await refreshSession(h.deps, next.refreshToken, ""));
      current = next;
    }
  });

  it("access tokens carry their session's creation time, kept by refreshes", async () => {
    const h = await harness();
    const pair = await login(h);
    const created = (await h.sessions.get(pair.sessionId))?.createdAt;
    assert.equal((await introspectToken(h.deps, pair.accessToken)).sessionCreatedAt, created);
    h.clock.advance(5000);
    const next = await refreshSession(h.deps, pair.refreshToken, "");
    assert.equal((await introspectToken(h.deps, next.accessToken)).sessionCreatedAt, created);
  });

  it("a session opened after every session of the key was revoked, on a clock behind the cap mark, lands above it", async () => {
    const h = await harness();
    for (let i = 0; i < 20; i++) {
      await login(h);
      h.clock.advance(10);
    }
    const mark = await h.sessions.capMark(h.keyOne);
    assert.ok(mark);
    await h.sessions.revokeForKey(h.keyOne, RevokeReason.apiKeyDisabled, h.clock.t, {
      createdUpTo: Number.POSITIVE_INFINITY,
    });
    h.clock.advance(-10_000);
    const pair = await login(h);
    const claims = await introspectToken(h.deps, pair.accessToken);
    assert.equal(claims.sessionCreatedAt, mark.createdAt + 1);
    assert.equal((await h.sessions.listLive(h.keyOne, h.clock.t)).length, 1);
  });

  it("a session the store refuses for the cap mark (another replica's cap raised it meanwhile) is opened again above it, unannounced", async () => {
    const h = await harness();
    for (let i = 0; i < 17; i++) await login(h);
    const mark = await h.sessions.capMark(h.keyOne);
    assert.ok(mark);
    await h.sessions.revokeForKey(h.keyOne, RevokeReason.apiKeyDisabled, h.clock.t, {
      createdUpTo: Number.POSITIVE_INFINITY,
    });
    // The first read of the mark misses it, as a read made before another replica raised it would.
    const read = h.sessions.capMark.bind(h.sessions);
    let misses = 1;
    h.sessions.capMark = async (apiKeyId) => (misses-- > 0 ? undefined : read(apiKeyId));
    h.clock.advance(-10_000);
    const before = h.events.log.length;
    const pair = await login(h);
    assert.equal(misses, -1, "the mark was read again");
    const claims = await introspectToken(h.deps, pair.accessToken);
    assert.ok((claims.sessionCreatedAt ?? 0) > mark.createdAt);
    // Only the session handed out is reported; the refused one had no token.
    const after = h.events.log.slice(before);
    assert.deepEqual(
      after.map((e) => (e.type === "opened" ? e.session.id : e.type)),
      [pair.sessionId],
    );
    assert.deepEqual(
      (await h.sessions.listLive(h.keyOne, h.clock.t)).map((s) => s.id),
      [pair.sessionId],
    );
  });

  it("a session opened on a clock behind the key's sixteen live ones closes the oldest, not itself", async () => {
    const h = await harness();
    const pairs = [];
    for (let i = 0; i < 16; i++) pairs.push(await login(h));
    h.clock.advance(-2000);
    const last = await login(h);
    assert.equal((await h.sessions.get(last.sessionId))?.revokedAt, undefined);
    assert.equal((await h.sessions.get(pairs[0]?.sessionId ?? ""))?.revokeReason, RevokeReason.sessionLimit);
    assert.equal((await h.sessions.listLive(h.keyOne, h.clock.t)).length, 16);
  });
});
