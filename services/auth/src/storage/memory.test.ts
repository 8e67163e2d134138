import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RevokeReason, type Session } from "../domain/entities";
import { hashRefreshToken } from "../domain/refresh-token";
import { authStoreContract, session as contractSession } from "./contract";
import { MemorySessionStore } from "./memory-sessions";
import { MemorySigningKeyStore } from "./memory-signing-keys";

authStoreContract("memory", async () => {
  const sessions = new MemorySessionStore();
  return { sessions, signingKeys: new MemorySigningKeyStore(), sameDatabase: async () => sessions };
});

const T0 = 1_750_000_000_000;
const DAY = 86_400_000;
const ACCESS = 60_000;

/** The contract suite's session, bound to an address and with a one-minute access lifetime. */
function session(over: Partial<Session> = {}): Session {
  return contractSession({ ipAddr: "10.0.0.1", accessLifetime: ACCESS, ...over });
}

describe("memory session store: revoked sessions are kept only while they matter", () => {
  it("lists a revoked session until its access tokens expire, and answers it as revoked until its refresh token would have expired", async () => {
    const store = new MemorySessionStore();
    const s = session();
    await store.open(s, 16, T0);
    await store.revoke(s.id, RevokeReason.requested, T0 + 10);
    const kept = await store.get(s.id);
    assert.equal(kept?.revokedAt, T0 + 10);
    assert.equal(kept?.revokeReason, RevokeReason.requested);
    assert.equal(kept?.refreshHash, s.refreshHash);
    assert.equal(
      (await store.rotate(s.id, s.refreshHash, { refreshHash: "n", expiresAt: T0 + DAY }, T0 + 20)).kind,
      "failed",
    );
    // A starting gateway must still hear of it while its access token can be valid.
    await store.purgeExpired(T0 + ACCESS - 1);
    assert.deepEqual(
      (await store.listRevokedSince(T0)).map((x) => x.id),
      [s.id],
    );
    await store.purgeExpired(T0 + ACCESS);
    assert.deepEqual(await store.listRevokedSince(T0), []);
    // Its refresh token is still one of a revoked session (75), not an unknown one (76).
    const remembered = await store.get(s.id);
    assert.equal(remembered?.revokedAt, T0 + 10);
    assert.equal(remembered?.refreshHash, s.refreshHash);
    assert.equal(
      (await store.rotate(s.id, s.refreshHash, { refreshHash: "n", expiresAt: T0 + DAY }, T0 + ACCESS + 1)).kind,
      "failed",
    );
    await store.purgeExpired(T0 + 7 * DAY + 1);
    assert.equal(await store.get(s.id), undefined);
  });

  it("keeps a revoked session while its family has a live session: reuse of its spent token still revokes the family", async () => {
    const store = new MemorySessionStore();
    const root = session();
    await store.open(root, 16, T0);
    const next = hashRefreshToken("root-2");
    await store.rotate(root.id, root.refreshHash, { refreshHash: next, expiresAt: T0 + 7 * DAY }, T0 + 1);
    let forkOf = root;
    // A fork of a fork of ... of the root: the family at depth 5.
    for (let depth = 1; depth <= 5; depth++) {
      const fork = session({ familyId: root.id, createdAt: T0 + 1 + depth });
      await store.open(fork, 16, T0 + 1 + depth);
      forkOf = fork;
    }
    await store.revoke(root.id, RevokeReason.requested, T0 + 10);
    // Long past the root's access tokens, with sweeps run by both paths.
    const later = T0 + 10 * ACCESS;
    for (let i = 0; i < 2000; i++) {
      const x = session({ apiKeyId: "key-b", createdAt: later + i, accessLifetime: 1 });
      await store.open(x, 16, later + i);
    }
    await store.purgeExpired(later + 3000);
    const r = await store.rotate(root.id, root.refreshHash, { refreshHash: "x", expiresAt: T0 + DAY }, later + 3000);
    assert.equal(r.kind, "reused", "the spent hash of a revoked session of a live family");
    assert.equal(r.session?.familyId, root.id);
    const revoked = await store.revokeFamily(root.id, RevokeReason.reuse, later + 3001);
    assert.equal(revoked.length, 5);
    assert.ok(revoked.some((s) => s.id === forkOf.id));
    // Now the whole family is revoked: past its tokens it is no longer listed, and past its
    // refresh tokens' expiry nothing of it is kept.
    await store.purgeExpired(later + 3001 + ACCESS);
    assert.deepEqual(
      (await store.listRevokedSince(0)).filter((s) => s.familyId === root.id),
      [],
    );
    assert.ok((await store.get(forkOf.id))?.revokedAt !== undefined);
    await store.purgeExpired(T0 + 7 * DAY + 1);
    assert.equal(await store.get(root.id), undefined);
    assert.equal(await store.get(forkOf.id), undefined);
  });

  it("remembers only the newest revoked sessions past their access tokens (a bounded list)", async () => {
    const store = new MemorySessionStore({ maxForgotten: 100 });
    const step = ACCESS / 100;
    const closedIds: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      const now = T0 + i * step;
      for (const c of await store.open(session({ createdAt: now }), 16, now)) closedIds.push(c.id);
    }
    await store.purgeExpired(T0 + 5_000 * step + ACCESS);
    const newest = closedIds.at(-1) as string;
    const oldest = closedIds[0] as string;
    assert.ok((await store.get(newest))?.revokedAt !== undefined, "the newest is answered as revoked");
    assert.equal(await store.get(oldest), undefined, "the oldest, past the bound, is forgotten");
    let remembered = 0;
    for (const id of closedIds) if ((await store.get(id)) !== undefined) remembered++;
    assert.ok(remembered <= 100, `${remembered} remembered`);
  });

  it("what a key's grants leave behind is bounded by the access lifetime, however many sessions the cap closed", async () => {
    const store = new MemorySessionStore();
    // 20,000 grants over 200 access lifetimes: each closes the key's oldest of 16.
    const step = ACCESS / 100;
    let closed = 0;
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      const now = T0 + i * step;
      closed += (await store.open(session({ createdAt: now }), 16, now)).length;
      if (i % 500 === 0) most = Math.max(most, (await store.listRevokedSince(0)).length);
    }
    assert.equal(closed, 20_000 - 16);
    assert.equal((await store.listLive("key-a", T0 + 20_000 * step)).length, 16);
    // Revoked within one access lifetime (100 grants), plus what accumulates between sweeps.
    assert.ok(most <= 2 * 1024 + 100, `kept ${most} revoked sessions`);
    await store.purgeExpired(T0 + 20_000 * step + ACCESS);
    assert.deepEqual(await store.listRevokedSince(0), []);
  });

  it("a revoked session is kept with what is asked of it, not its scope, name or address", async () => {
    const store = new MemorySessionStore();
    const s = session({ name: "laptop", scope: ["pki:read", "user:read"] });
    await store.open(s, 16, T0);
    const [revoked] = await store.revokeForKey("key-a", RevokeReason.apiKeyDeleted, T0 + 5, { createdUpTo: T0 });
    assert.deepEqual(revoked?.scope, s.scope, "the caller gets the whole session it revoked");
    assert.equal(revoked?.name, "laptop");
    const kept = await store.get(s.id);
    assert.deepEqual(kept, {
      id: s.id,
      apiKeyId: s.apiKeyId,
      familyId: s.familyId,
      scope: [],
      accessLifetime: s.accessLifetime,
      createdAt: s.createdAt,
      expiresAt: s.expiresAt,
      generation: 0,
      refreshHash: s.refreshHash,
      revokedAt: T0 + 5,
      revokeReason: RevokeReason.apiKeyDeleted,
    });
  });
});
