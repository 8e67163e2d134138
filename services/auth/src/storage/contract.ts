import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { accessTokensExpireAt, coveredByMark, RevokeReason, type Session } from "../domain/entities";
import type { SessionStore, SigningKeyStore, StoredSigningKey } from "../domain/ports";
import { hashRefreshToken, newSessionId } from "../domain/refresh-token";

export interface AuthStores {
  sessions: SessionStore;
  signingKeys: SigningKeyStore;
  /** Another session store on the same database as `sessions` (as a second replica has); closed by `close`. */
  sameDatabase(): Promise<SessionStore>;
  close?(): Promise<void>;
}

const T0 = 1_750_000_000_000;
const DAY = 86_400_000;

/** A live session of key-a opened at T0 (the contract suite's fixture, also used by store tests). */
export function session(over: Partial<Session> = {}): Session {
  const id = over.id ?? newSessionId();
  return {
    id,
    apiKeyId: "key-a",
    familyId: id,
    scope: ["pki:read"],
    accessLifetime: 900_000,
    createdAt: T0,
    expiresAt: T0 + 7 * DAY,
    generation: 0,
    refreshHash: hashRefreshToken(randomBytes(8).toString("hex")),
    ...over,
  };
}

function signingKey(slot: string, over: Partial<StoredSigningKey> = {}): StoredSigningKey {
  return {
    kid: randomBytes(12).toString("base64url"),
    slot,
    publicJwk: "{}",
    sealedPrivateJwk: "sealed",
    createdAt: T0,
    verifyUntil: T0 + DAY,
    ...over,
  };
}

/**
 * Opens a session of `over.apiKeyId` (key-a) created as openSession creates
 * it: after the key's newest live session and above its cap mark, at `now` at
 * the earliest; opens another when the store refuses it (a mark raised past it
 * meanwhile). Returns it and what its open closed.
 */
async function openAbove(
  store: SessionStore,
  now: number,
  over: Partial<Session> = {},
  attempts = 20,
): Promise<{ opened: Session; closed: Session[] }> {
  const apiKeyId = over.apiKeyId ?? "key-a";
  for (let i = 0; i < attempts; i++) {
    const [newest, mark] = await Promise.all([store.newestCreatedAt(apiKeyId, now), store.capMark(apiKeyId)]);
    const createdAt = Math.max(
      now,
      (newest ?? Number.NEGATIVE_INFINITY) + 1,
      (mark?.createdAt ?? Number.NEGATIVE_INFINITY) + 1,
    );
    const s = session({ ...over, apiKeyId, createdAt });
    const closed = await store.open(s, 16, now);
    if (!closed.some((c) => c.id === s.id)) return { opened: s, closed };
  }
  throw new Error(`no session opened above the cap mark in ${attempts} attempts`);
}

/**
 * The behaviour every auth store adapter must have, run against each one.
 * `makeStores` gives fresh, empty stores for each test. node:test is loaded
 * only when the suite is defined, so importing the package does not load it.
 */
export function authStoreContract(name: string, makeStores: () => Promise<AuthStores>): void {
  const { describe, it, beforeEach, afterEach } = require("node:test") as typeof import("node:test");

  describe(`auth store contract: ${name}`, () => {
    let stores: AuthStores;
    let sessions: SessionStore;
    beforeEach(async () => {
      stores = await makeStores();
      sessions = stores.sessions;
    });
    afterEach(async () => {
      await stores.close?.();
    });

    it("returns an opened session as written, and nothing for an unknown id", async () => {
      const s = session({ name: "laptop", ipAddr: "10.0.0.1", scope: ["pki:read", "user:read"] });
      assert.deepEqual(await sessions.open(s, 16, T0), []);
      assert.deepEqual(await sessions.get(s.id), s);
      assert.equal(await sessions.get(newSessionId()), undefined);
    });

    it("rotation spends the current hash once: generation +1, expiry slides, old hash kept for reuse detection", async () => {
      const s = session();
      await sessions.open(s, 16, T0);
      const r = await sessions.rotate(s.id, s.refreshHash, { refreshHash: "h2", expiresAt: T0 + 8 * DAY }, T0 + DAY);
      assert.equal(r.kind, "rotated");
      assert.equal(r.session?.generation, 1);
      assert.equal(r.session?.refreshHash, "h2");
      assert.equal(r.session?.expiresAt, T0 + 8 * DAY);
      assert.equal(r.session?.rotatedAt, T0 + DAY);
      assert.equal(await sessions.wasSpent(s.id, s.refreshHash), true);
      assert.equal(await sessions.wasSpent(s.id, "h2"), false);
      const again = await sessions.rotate(
        s.id,
        s.refreshHash,
        { refreshHash: "h3", expiresAt: T0 + 9 * DAY },
        T0 + DAY,
      );
      assert.equal(again.kind, "reused");
      assert.equal((await sessions.get(s.id))?.refreshHash, "h2");
    });

    it("concurrent rotations of one refresh hash: exactly one wins, every loser is detected as reuse", async () => {
      const s = session();
      await sessions.open(s, 16, T0);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          sessions.rotate(s.id, s.refreshHash, { refreshHash: `next-${i}`, expiresAt: T0 + 8 * DAY }, T0 + 1),
        ),
      );
      assert.equal(results.filter((r) => r.kind === "rotated").length, 1);
      assert.equal(results.filter((r) => r.kind === "reused").length, 7);
      const stored = await sessions.get(s.id);
      assert.equal(stored?.generation, 1);
      const winner = results.find((r) => r.kind === "rotated");
      assert.equal(stored?.refreshHash, winner?.session?.refreshHash);
    });

    it("reuse is recognised however many rotations ago the hash was spent, and only for its own session", async () => {
      const s = session();
      const other = session();
      for (const x of [s, other]) await sessions.open(x, 16, T0);
      const hashes = [s.refreshHash];
      for (let i = 1; i <= 150; i++) {
        const next = hashRefreshToken(`rotation-${i}-${s.id}`);
        const r = await sessions.rotate(
          s.id,
          hashes[hashes.length - 1] as string,
          { refreshHash: next, expiresAt: T0 + 7 * DAY + i },
          T0 + i,
        );
        assert.equal(r.kind, "rotated");
        hashes.push(next);
      }
      const stored = await sessions.get(s.id);
      assert.equal(stored?.generation, 150);
      assert.equal(await sessions.wasSpent(s.id, s.refreshHash), true, "the first hash, 150 rotations ago");
      assert.equal(await sessions.wasSpent(s.id, hashes[75] as string), true);
      assert.equal(await sessions.wasSpent(s.id, hashes[150] as string), false, "the current hash is not spent");
      assert.equal(await sessions.wasSpent(other.id, s.refreshHash), false, "another session's hash");
      const replay = await sessions.rotate(
        s.id,
        s.refreshHash,
        { refreshHash: "x", expiresAt: T0 + 8 * DAY },
        T0 + 200,
      );
      assert.equal(replay.kind, "reused");
      assert.equal((await sessions.get(s.id))?.refreshHash, hashes[150]);
    });

    it("a family: revoking it revokes every live session in it and marks it, other families untouched", async () => {
      const root = session({ createdAt: T0 });
      const fork = session({ familyId: root.id, createdAt: T0 + 1 });
      const forkOfFork = session({ familyId: root.id, createdAt: T0 + 2 });
      const expired = session({ familyId: root.id, createdAt: T0 + 3, expiresAt: T0 + 10 });
      const stranger = session({ createdAt: T0 + 4 });
      for (const s of [root, fork, forkOfFork, expired, stranger]) await sessions.open(s, 16, s.createdAt);
      assert.equal((await sessions.get(fork.id))?.familyId, root.id);
      assert.equal(await sessions.isFamilyRevoked(root.id), false);
      const revoked = await sessions.revokeFamily(root.id, RevokeReason.reuse, T0 + 100);
      assert.deepEqual(revoked.map((s) => s.id).sort(), [root.id, fork.id, forkOfFork.id].sort());
      for (const s of revoked) assert.equal(s.revokeReason, RevokeReason.reuse);
      assert.equal(await sessions.isFamilyRevoked(root.id), true);
      assert.equal(await sessions.isFamilyRevoked(stranger.id), false);
      assert.equal((await sessions.get(stranger.id))?.revokedAt, undefined);
      assert.equal((await sessions.get(expired.id))?.revokedAt, undefined, "an expired session is left as it is");
      assert.deepEqual(await sessions.revokeFamily(root.id, RevokeReason.reuse, T0 + 200), [], "once");
      // A session of the family stored after the revocation finds the mark.
      const late = session({ familyId: root.id, createdAt: T0 + 300 });
      await sessions.open(late, 16, T0 + 300);
      assert.equal(await sessions.isFamilyRevoked(late.familyId), true);
    });

    it("concurrent revocations of one family revoke each of its sessions exactly once", async () => {
      const root = session({ createdAt: T0 });
      const forks = [1, 2, 3].map((i) => session({ familyId: root.id, createdAt: T0 + i }));
      for (const s of [root, ...forks]) await sessions.open(s, 16, s.createdAt);
      const results = await Promise.all(
        Array.from({ length: 6 }, () => sessions.revokeFamily(root.id, RevokeReason.reuse, T0 + 100)),
      );
      const ids = results.flat().map((s) => s.id);
      assert.deepEqual([...ids].sort(), [root.id, ...forks.map((s) => s.id)].sort());
      assert.equal(await sessions.isFamilyRevoked(root.id), true);
    });

    it("a key with many closed sessions still opens, counts and evicts correctly", async () => {
      // Expired, revoked and closed by the cap: none of them may count, or be closed again.
      for (let i = 0; i < 20; i++) {
        await sessions.open(session({ createdAt: T0 + i, expiresAt: T0 + 50 }), 16, T0 + i);
      }
      const revoked = session({ createdAt: T0 + 60 });
      await sessions.open(revoked, 16, T0 + 60);
      await sessions.revoke(revoked.id, RevokeReason.requested, T0 + 61);
      const opened: Session[] = [];
      for (let i = 0; i < 120; i++) {
        const s = session({ createdAt: T0 + 100 + i });
        opened.push(s);
        const closed = await sessions.open(s, 16, T0 + 100 + i);
        assert.equal(closed.length, i < 16 ? 0 : 1, `open #${i} closes only what the cap requires`);
      }
      const now = T0 + 300;
      const live = await sessions.listLive("key-a", now);
      assert.deepEqual(
        live.map((s) => s.id),
        opened
          .slice(104)
          .map((s) => s.id)
          .reverse(),
      );
      const next = session({ createdAt: now });
      const closed = await sessions.open(next, 16, now);
      assert.deepEqual(
        closed.map((s) => [s.id, s.revokeReason]),
        [[opened[104]?.id, RevokeReason.sessionLimit]],
      );
      const after = await sessions.listLive("key-a", now);
      assert.equal(after.length, 16);
      assert.equal(after[0]?.id, next.id);
      const all = await sessions.revokeForKey("key-a", RevokeReason.apiKeyDeleted, now + 1, {
        createdUpTo: Number.POSITIVE_INFINITY,
      });
      assert.equal(all.length, 16);
      assert.deepEqual(await sessions.listLive("key-a", now + 1), []);
    });

    it("newestCreatedAt is the createdAt of the key's newest live session: not a revoked, expired or other key's one", async () => {
      assert.equal(await sessions.newestCreatedAt("key-a", T0), undefined);
      await sessions.open(session({ createdAt: T0 + 5 }), 16, T0);
      const newest = session({ createdAt: T0 + 9 });
      await sessions.open(newest, 16, T0);
      await sessions.open(session({ createdAt: T0 + 7 }), 16, T0);
      await sessions.open(session({ apiKeyId: "key-b", createdAt: T0 + 50 }), 16, T0);
      // Expires first, though created last.
      await sessions.open(session({ createdAt: T0 + 20, expiresAt: T0 + 100 }), 16, T0);
      assert.equal(await sessions.newestCreatedAt("key-a", T0 + 10), T0 + 20);
      assert.equal(await sessions.newestCreatedAt("key-a", T0 + 100), T0 + 9);
      await sessions.revoke(newest.id, RevokeReason.requested, T0 + 101);
      assert.equal(await sessions.newestCreatedAt("key-a", T0 + 102), T0 + 7);
      const live = await sessions.listLive("key-a", T0 + 102);
      assert.equal(live[0]?.createdAt, T0 + 7);
      assert.equal(await sessions.newestCreatedAt("key-b", T0 + 102), T0 + 50);
      assert.equal(await sessions.newestCreatedAt("key-c", T0 + 102), undefined);
    });

    it("a revoked, expired or unknown session does not rotate, nor does an unknown hash", async () => {
      const revoked = session();
      const expired = session({ expiresAt: T0 + 10 });
      const live = session();
      for (const s of [revoked, expired, live]) await sessions.open(s, 16, T0);
      await sessions.revoke(revoked.id, RevokeReason.requested, T0 + 1);
      const next = { refreshHash: "n", expiresAt: T0 + DAY };
      assert.equal((await sessions.rotate(revoked.id, revoked.refreshHash, next, T0 + 2)).kind, "failed");
      assert.equal((await sessions.rotate(expired.id, expired.refreshHash, next, T0 + 20)).kind, "failed");
      assert.equal((await sessions.rotate(newSessionId(), "x", next, T0 + 2)).kind, "failed");
      assert.equal((await sessions.rotate(live.id, "not-the-hash", next, T0 + 2)).kind, "failed");
      assert.equal((await sessions.get(live.id))?.generation, 0);
    });

    it("opening a 17th live session of a key closes the oldest; other keys are not counted", async () => {
      const opened: Session[] = [];
      for (let i = 0; i < 16; i++) {
        const s = session({ createdAt: T0 + i });
        opened.push(s);
        assert.deepEqual(await sessions.open(s, 16, T0 + i), []);
      }
      await sessions.open(session({ apiKeyId: "key-b", createdAt: T0 + 50 }), 16, T0 + 50);
      const seventeenth = session({ createdAt: T0 + 100 });
      const closed = await sessions.open(seventeenth, 16, T0 + 100);
      assert.deepEqual(
        closed.map((s) => s.id),
        [opened[0]?.id],
      );
      assert.equal(closed[0]?.revokeReason, RevokeReason.sessionLimit);
      assert.equal(closed[0]?.revokedAt, T0 + 100);
      const live = await sessions.listLive("key-a", T0 + 100);
      assert.equal(live.length, 16);
      assert.equal(live[0]?.id, seventeenth.id);
      assert.equal(live[15]?.id, opened[1]?.id);
      assert.equal((await sessions.listLive("key-b", T0 + 100)).length, 1);
    });

    it("the cap raises the key's mark to the newest session it closed, with the end of the tokens it covers", async () => {
      const opened: Session[] = [];
      for (let i = 0; i < 16; i++) {
        const s = session({ createdAt: T0 + i });
        opened.push(s);
        await sessions.open(s, 16, T0 + i);
      }
      await sessions.open(session({ apiKeyId: "key-b", createdAt: T0 + 50 }), 16, T0 + 50);
      assert.equal(await sessions.capMark("key-a"), undefined, "no mark before the cap closed anything");
      // The third oldest rotates before the cap closes it: its last access token expires latest.
      const third = opened[2] as Session;
      await sessions.rotate(third.id, third.refreshHash, { refreshHash: "r2", expiresAt: T0 + 7 * DAY }, T0 + 60);
      const requested = opened[10] as Session;
      await sessions.revoke(requested.id, RevokeReason.requested, T0 + 70);
      const closed: Session[] = [];
      for (let i = 0; i < 5; i++) {
        closed.push(...(await sessions.open(session({ createdAt: T0 + 100 + i }), 16, T0 + 100 + i)));
      }
      // Five opens over sixteen live (one revoked): the four oldest are closed.
      assert.deepEqual(
        closed.map((s) => [s.id, s.revokeReason]),
        opened.slice(0, 4).map((s) => [s.id, RevokeReason.sessionLimit]),
      );
      const until = T0 + 60 + third.accessLifetime;
      assert.equal(Math.max(...closed.map(accessTokensExpireAt)), until);
      const mark = { apiKeyId: "key-a", createdAt: T0 + 3, sessionId: opened[3]?.id, tokensExpireAt: until };
      assert.deepEqual(await sessions.capMark("key-a"), mark);
      assert.equal(await sessions.capMark("key-b"), undefined);
      for (const s of await sessions.listLive("key-a", T0 + 200)) assert.equal(coveredByMark(s, mark as never), false);
      // A starting gateway is given the mark, not the sessions it covers; other revocations as before.
      assert.deepEqual(await sessions.listCapMarks(T0 + 200), [mark]);
      assert.deepEqual(
        (await sessions.listRevokedSince(T0)).map((s) => s.id),
        [requested.id],
      );
      // The refresh token of a session the cap closed is answered as revoked (75).
      assert.equal((await sessions.get(opened[0]?.id as string))?.revokeReason, RevokeReason.sessionLimit);
      assert.equal(
        (await sessions.rotate(third.id, "r2", { refreshHash: "r3", expiresAt: T0 + 8 * DAY }, T0 + 300)).kind,
        "failed",
      );
      // Past the end of the tokens it covers, the mark is no longer listed, then purged.
      assert.deepEqual(await sessions.listCapMarks(until), []);
      await sessions.purgeExpired(until + 1);
      assert.equal(await sessions.capMark("key-a"), undefined);
    });

    it("a session at or before the key's cap mark is refused: closed at once and returned among the closed", async () => {
      for (let i = 0; i < 18; i++) await sessions.open(session({ createdAt: T0 + i }), 16, T0 + i);
      const mark = await sessions.capMark("key-a");
      assert.equal(mark?.createdAt, T0 + 1);
      // Room under the cap: only the mark can refuse what follows.
      for (const s of (await sessions.listLive("key-a", T0 + 30)).slice(0, 3)) {
        await sessions.revoke(s.id, RevokeReason.requested, T0 + 30);
      }
      const below = session({ createdAt: T0 });
      // In the mark's millisecond, an id that sorts before the mark's (a prefix of it).
      const atMark = session({ createdAt: T0 + 1, id: mark?.sessionId.slice(0, -1) ?? "" });
      assert.ok(atMark.id < (mark?.sessionId ?? ""), "the id sorts before the mark's");
      for (const s of [below, atMark]) {
        const closed = await sessions.open(s, 16, T0 + 40);
        assert.deepEqual(
          closed.map((c) => [c.id, c.revokeReason]),
          [[s.id, RevokeReason.sessionLimit]],
        );
        const live = await sessions.listLive("key-a", T0 + 40);
        assert.equal(live.length, 13);
        assert.ok(!live.some((l) => l.id === s.id));
      }
      assert.equal((await sessions.capMark("key-a"))?.sessionId, mark?.sessionId, "a refused session moves no mark");
    });

    it("a session opened after every session of the key was revoked, on a clock behind the mark, lands above it", async () => {
      for (let i = 0; i < 20; i++) await sessions.open(session({ createdAt: T0 + 1000 + i }), 16, T0 + 1000 + i);
      const mark = await sessions.capMark("key-a");
      assert.equal(mark?.createdAt, T0 + 1003);
      await sessions.revokeForKey("key-a", RevokeReason.apiKeyDisabled, T0 + 1100, {
        createdUpTo: Number.POSITIVE_INFINITY,
      });
      assert.deepEqual(await sessions.listLive("key-a", T0 + 1100), []);
      assert.deepEqual(await sessions.capMark("key-a"), mark, "the mark outlives the key's sessions");
      const { opened, closed } = await openAbove(sessions, T0);
      assert.deepEqual(closed, []);
      assert.ok(mark && !coveredByMark(opened, mark), `${opened.createdAt} above ${mark?.createdAt}`);
      assert.deepEqual(
        (await sessions.listLive("key-a", T0)).map((s) => s.id),
        [opened.id],
      );
    });

    it("two stores on one database opening sessions of one key at once never leave a live session at or before the mark", async () => {
      const other = await stores.sameDatabase();
      const now = T0 + 5000;
      // 2 x 20 opens, all in one millisecond: the order is (createdAt, id), every race decided by ids.
      const opens = await Promise.all(
        Array.from({ length: 40 }, (_, i) => openAbove(i % 2 === 0 ? sessions : other, now)),
      );
      const mark = await sessions.capMark("key-a");
      assert.ok(mark, "the cap closed sessions");
      assert.deepEqual(await other.capMark("key-a"), mark);
      const live = await sessions.listLive("key-a", now);
      const covered = live.filter((s) => coveredByMark(s, mark));
      assert.deepEqual(covered, [], "no live session at or before the mark");
      // Every session the opens closed is at or before the mark, closed by the cap or refused.
      const openedIds = new Set(opens.map((o) => o.opened.id));
      for (const c of opens.flatMap((o) => o.closed)) {
        assert.ok(openedIds.has(c.id), "only sessions of this test are closed");
        assert.equal(c.revokeReason, RevokeReason.sessionLimit);
        assert.ok(coveredByMark(c, mark), "a closed session is covered by the mark");
      }
      // Once the races are over, the next open leaves the key its sixteen newest.
      const last = await openAbove(other, now + 1);
      const after = await sessions.listLive("key-a", now + 1);
      assert.equal(after.length, 16);
      assert.equal(after[0]?.id, last.opened.id);
      const markAfter = await sessions.capMark("key-a");
      assert.ok(markAfter);
      for (const s of after) assert.equal(coveredByMark(s, markAfter), false);
    });

    it("expired and revoked sessions do not count toward the cap", async () => {
      for (let i = 0; i < 10; i++) await sessions.open(session({ createdAt: T0 + i, expiresAt: T0 + 500 }), 16, T0 + i);
      for (let i = 0; i < 16; i++) {
        assert.deepEqual(await sessions.open(session({ createdAt: T0 + 1000 + i }), 16, T0 + 1000 + i), []);
      }
    });

    it("a named session replaces the live session of the same key with that name, and only that one", async () => {
      const first = session({ name: "ci", createdAt: T0 });
      const other = session({ name: "laptop", createdAt: T0 + 1 });
      const otherKey = session({ apiKeyId: "key-b", name: "ci", createdAt: T0 + 2 });
      for (const s of [first, other, otherKey]) await sessions.open(s, 16, s.createdAt);
      const second = session({ name: "ci", createdAt: T0 + 10 });
      const closed = await sessions.open(second, 16, T0 + 10);
      assert.deepEqual(
        closed.map((s) => [s.id, s.revokeReason]),
        [[first.id, RevokeReason.replaced]],
      );
      assert.ok((await sessions.get(first.id))?.revokedAt !== undefined);
      assert.equal((await sessions.get(other.id))?.revokedAt, undefined);
      assert.equal((await sessions.get(otherKey.id))?.revokedAt, undefined);
      assert.equal((await sessions.get(second.id))?.revokedAt, undefined);
    });

    it("revoking is idempotent: only the first call reports the session", async () => {
      const s = session();
      await sessions.open(s, 16, T0);
      const r = await sessions.revoke(s.id, RevokeReason.requested, T0 + 5);
      assert.equal(r?.id, s.id);
      assert.equal(r?.revokedAt, T0 + 5);
      assert.equal(await sessions.revoke(s.id, RevokeReason.requested, T0 + 6), undefined);
      assert.equal((await sessions.get(s.id))?.revokedAt, T0 + 5);
      assert.equal(await sessions.revoke(newSessionId(), RevokeReason.requested, T0), undefined);
    });

    it("revokeForKey revokes the selected live sessions opened up to the given time, once", async () => {
      const old = session({ createdAt: T0, scope: ["user:write"] });
      const oldNarrow = session({ createdAt: T0 + 1, scope: ["pki:read"] });
      const late = session({ createdAt: T0 + 100, scope: ["user:write"] });
      const otherKey = session({ apiKeyId: "key-b", createdAt: T0, scope: ["user:write"] });
      for (const s of [old, oldNarrow, late, otherKey]) await sessions.open(s, 16, s.createdAt);
      const select = (s: Session) => s.scope.includes("user:write");
      const revoked = await sessions.revokeForKey("key-a", RevokeReason.scopeNarrowed, T0 + 200, {
        createdUpTo: T0 + 50,
        select,
      });
      assert.deepEqual(
        revoked.map((s) => s.id),
        [old.id],
      );
      assert.equal(revoked[0]?.revokeReason, RevokeReason.scopeNarrowed);
      assert.deepEqual(
        await sessions.revokeForKey("key-a", RevokeReason.scopeNarrowed, T0 + 300, { createdUpTo: T0 + 50, select }),
        [],
      );
      const all = await sessions.revokeForKey("key-a", RevokeReason.apiKeyDeleted, T0 + 400, {
        createdUpTo: Number.POSITIVE_INFINITY,
      });
      assert.deepEqual(all.map((s) => s.id).sort(), [oldNarrow.id, late.id].sort());
      assert.equal((await sessions.get(otherKey.id))?.revokedAt, undefined);
    });

    it("returns the credential generation and expiry a session was opened with", async () => {
      const s = session({ credentialGeneration: 3, credentialExpiresAt: T0 + 5000 });
      await sessions.open(s, 16, T0);
      assert.deepEqual(await sessions.get(s.id), s);
    });

    it("limitCredential gives the key's live sessions of that generation or older the expiry, never a later one", async () => {
      const legacy = session({ createdAt: T0 });
      const gen1 = session({ createdAt: T0 + 1, credentialGeneration: 1 });
      const gen2 = session({ createdAt: T0 + 2, credentialGeneration: 2 });
      const earlier = session({ createdAt: T0 + 3, credentialGeneration: 1, credentialExpiresAt: T0 + 100 });
      const otherKey = session({ apiKeyId: "key-b", credentialGeneration: 0 });
      const revoked = session({ createdAt: T0 + 4, credentialGeneration: 1 });
      for (const s of [legacy, gen1, gen2, earlier, otherKey, revoked]) await sessions.open(s, 16, T0);
      await sessions.revoke(revoked.id, RevokeReason.requested, T0);
      await sessions.limitCredential("key-a", 1, T0 + 1000, T0);
      assert.equal((await sessions.get(legacy.id))?.credentialExpiresAt, T0 + 1000);
      assert.equal((await sessions.get(gen1.id))?.credentialExpiresAt, T0 + 1000);
      assert.equal((await sessions.get(gen2.id))?.credentialExpiresAt, undefined);
      assert.equal((await sessions.get(earlier.id))?.credentialExpiresAt, T0 + 100);
      assert.equal((await sessions.get(otherKey.id))?.credentialExpiresAt, undefined);
      assert.equal((await sessions.get(revoked.id))?.credentialExpiresAt, undefined);
      // A later expiry does not push an earlier one back.
      await sessions.limitCredential("key-a", 1, T0 + 5000, T0);
      assert.equal((await sessions.get(gen1.id))?.credentialExpiresAt, T0 + 1000);
    });

    it("listCredentialExpired finds the live sessions whose credential expired, up to a limit", async () => {
      const due = [1, 2, 3].map((i) => session({ createdAt: T0 + i, credentialExpiresAt: T0 + 10 * i }));
      const notYet = session({ createdAt: T0 + 4, credentialExpiresAt: T0 + 1000 });
      const none = session({ createdAt: T0 + 5 });
      const revoked = session({ createdAt: T0 + 6, credentialExpiresAt: T0 });
      const expired = session({ createdAt: T0 + 7, credentialExpiresAt: T0, expiresAt: T0 + 5 });
      for (const s of [...due, notYet, none, revoked, expired]) await sessions.open(s, 16, T0);
      await sessions.revoke(revoked.id, RevokeReason.requested, T0);
      const now = T0 + 30;
      const found = await sessions.listCredentialExpired(now, 10);
      assert.deepEqual(found.map((s) => s.id).sort(), due.map((s) => s.id).sort());
      assert.equal((await sessions.listCredentialExpired(now, 2)).length, 2);
      assert.deepEqual(
        (await sessions.listCredentialExpired(T0 + 10, 10)).map((s) => s.id),
        [due[0]?.id],
      );
      for (const s of found) await sessions.revoke(s.id, RevokeReason.keyRotated, now);
      assert.deepEqual(await sessions.listCredentialExpired(now, 10), []);
    });

    it("lists revocations and rotations since a time, for a starting gateway", async () => {
      const a = session();
      const b = session();
      const c = session();
      for (const s of [a, b, c]) await sessions.open(s, 16, T0);
      await sessions.revoke(a.id, RevokeReason.requested, T0 + 10);
      await sessions.revoke(b.id, RevokeReason.requested, T0 + 1000);
      await sessions.rotate(c.id, c.refreshHash, { refreshHash: "c2", expiresAt: T0 + DAY }, T0 + 2000);
      assert.deepEqual(
        (await sessions.listRevokedSince(T0 + 500)).map((s) => s.id),
        [b.id],
      );
      const rotated = await sessions.listRotatedSince(T0 + 500);
      assert.deepEqual(
        rotated.map((s) => [s.id, s.generation]),
        [[c.id, 1]],
      );
      assert.deepEqual(await sessions.listRotatedSince(T0 + 3000), []);
    });

    it("purges sessions that expired before the given time", async () => {
      const gone = session({ expiresAt: T0 + 10 });
      const kept = session({ expiresAt: T0 + 1000 });
      for (const s of [gone, kept]) await sessions.open(s, 16, T0);
      assert.equal(await sessions.purgeExpired(T0 + 500), 1);
      assert.equal(await sessions.get(gone.id), undefined);
      assert.equal((await sessions.get(kept.id))?.id, kept.id);
      assert.equal(await sessions.isReady(), true);
    });

    it("purges spent hashes and family marks once past their time, keeps the others", async () => {
      const short = session({ expiresAt: T0 + 100 });
      const long = session({ expiresAt: T0 + 100 });
      for (const s of [short, long]) await sessions.open(s, 16, T0);
      await sessions.rotate(short.id, short.refreshHash, { refreshHash: "s2", expiresAt: T0 + 200 }, T0 + 1);
      await sessions.rotate(long.id, long.refreshHash, { refreshHash: "l2", expiresAt: T0 + 5000 }, T0 + 1);
      await sessions.revokeFamily(short.familyId, RevokeReason.reuse, T0 + 2);
      await sessions.revokeFamily(long.familyId, RevokeReason.reuse, T0 + 2);
      await sessions.purgeExpired(T0 + 1000);
      assert.equal(await sessions.wasSpent(short.id, short.refreshHash), false);
      assert.equal(await sessions.isFamilyRevoked(short.familyId), false);
      assert.equal(await sessions.wasSpent(long.id, long.refreshHash), true);
      assert.equal(await sessions.isFamilyRevoked(long.familyId), true);
    });

    it("signing keys: one key per slot even when replicas race to create it", async () => {
      const keys = stores.signingKeys;
      const results = await Promise.all(Array.from({ length: 6 }, () => keys.insertIfAbsent(signingKey("s:1"))));
      assert.equal(results.filter((r) => r.inserted).length, 1);
      const kids = new Set(results.map((r) => r.key.kid));
      assert.equal(kids.size, 1);
      const listed = await keys.listVerifying(T0);
      assert.deepEqual(
        listed.map((k) => k.kid),
        [...kids],
      );
      assert.equal(listed[0]?.sealedPrivateJwk, "sealed");
    });

    it("signing keys: lists only keys still verifying, oldest first, and purges the rest", async () => {
      const keys = stores.signingKeys;
      await keys.insertIfAbsent(signingKey("s:1", { kid: "k1", createdAt: T0, verifyUntil: T0 + 100 }));
      await keys.insertIfAbsent(signingKey("s:3", { kid: "k3", createdAt: T0 + 20, verifyUntil: T0 + 300 }));
      await keys.insertIfAbsent(signingKey("s:2", { kid: "k2", createdAt: T0 + 10, verifyUntil: T0 + 200 }));
      assert.deepEqual(
        (await keys.listVerifying(T0 + 50)).map((k) => k.kid),
        ["k1", "k2", "k3"],
      );
      assert.deepEqual(
        (await keys.listVerifying(T0 + 150)).map((k) => k.kid),
        ["k2", "k3"],
      );
      assert.equal(await keys.purgeExpired(T0 + 200), 2);
      assert.deepEqual(
        (await keys.listVerifying(T0)).map((k) => k.kid),
        ["k3"],
      );
    });
  });
}
