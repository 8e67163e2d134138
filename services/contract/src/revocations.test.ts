import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError, scopesWithin } from "@pkiserver/kit/core";
import { type KeyChange, RevocationCache } from "./revocations";
import { type AccessTokenClaims, SESSIONLESS_CREATED_AT } from "./token";

const T0 = 1_800_000_000_000;

function claims(over: Partial<AccessTokenClaims> = {}): AccessTokenClaims {
  return {
    apiKeyId: "k1",
    sessionId: "s1",
    generation: 1,
    scope: ["user:read", "pki:read"],
    expiresAt: T0 + 900_000,
    issuedAt: T0,
    ...over,
  };
}

describe("revocation cache", () => {
  it("refuses every token of a revoked session with 75", () => {
    const c = new RevocationCache({ now: () => T0 });
    c.revokeSession("s1");
    assert.throws(
      () => c.check(claims()),
      (e: unknown) => e instanceof AppError && e.code === "auth.token_expired",
    );
    assert.doesNotThrow(() => c.check(claims({ sessionId: "s2" })));
  });

  it("refuses tokens of older generations after a rotation, keeps the current one", () => {
    const c = new RevocationCache({ now: () => T0 });
    c.rotateSession("s1", 3);
    assert.equal(c.isWithdrawn(claims({ generation: 2 })), true);
    assert.equal(c.isWithdrawn(claims({ generation: 3 })), false);
    // A late, older rotation event does not bring old generations back.
    c.rotateSession("s1", 2);
    assert.equal(c.isWithdrawn(claims({ generation: 2 })), true);
  });

  it("loads auth's snapshot and reports itself loaded", () => {
    const c = new RevocationCache({ now: () => T0 });
    assert.equal(c.isLoaded(), false);
    c.loadSnapshot({
      revoked: [{ sessionId: "s9", revokedAt: T0 }],
      generations: [{ sessionId: "s1", generation: 5 }],
    });
    assert.equal(c.isLoaded(), true);
    assert.equal(c.isWithdrawn(claims({ sessionId: "s9" })), true);
    assert.equal(c.isWithdrawn(claims({ generation: 4 })), true);
  });

  it("refuses tokens issued before their key was disabled, even after it is re-enabled", () => {
    const c = new RevocationCache({ now: () => T0 });
    const all = ["user:read", "user:write", "pki:read"];
    c.applyKeyChange({ apiKeyId: "k1", at: T0 + 5000, deleted: false, enabled: false, maxScope: all });
    c.applyKeyChange({ apiKeyId: "k1", at: T0 + 6000, deleted: false, enabled: true, maxScope: all });
    assert.equal(c.isWithdrawn(claims({ issuedAt: T0 })), true);
    assert.equal(c.isWithdrawn(claims({ issuedAt: T0 + 7000 })), false);
    // Other keys are untouched.
    assert.equal(c.isWithdrawn(claims({ apiKeyId: "k2" })), false);
  });

  it("refuses tokens of a deleted key", () => {
    const c = new RevocationCache({ now: () => T0 });
    c.applyKeyChange({ apiKeyId: "k1", at: T0 + 5000, deleted: true, enabled: false, maxScope: [] });
    assert.equal(c.isWithdrawn(claims()), true);
  });

  it("after narrowing refuses only older tokens whose scope is no longer within maxScope", () => {
    const c = new RevocationCache({ now: () => T0 });
    c.applyKeyChange({ apiKeyId: "k1", at: T0 + 5000, deleted: false, enabled: true, maxScope: ["pki:read"] });
    assert.equal(c.isWithdrawn(claims({ scope: ["user:read", "pki:read"] })), true);
    assert.equal(c.isWithdrawn(claims({ scope: ["pki:read"] })), false);
    assert.equal(c.isWithdrawn(claims({ scope: ["user:read_write"] })), true);
  });

  it("within the millisecond its token was issued in (iat_ms) follows the key's current state", () => {
    const c = new RevocationCache({ now: () => T0 });
    const all = ["user:read", "pki:read"];
    // Disabled in the millisecond the token was issued in: order unknown, key still disabled.
    c.applyKeyChange({ apiKeyId: "k1", at: T0, deleted: false, enabled: false, maxScope: all });
    assert.equal(c.isWithdrawn(claims({ issuedAt: T0 })), true);
    // Re-enabled in the same millisecond: a token issued in it is allowed again.
    c.applyKeyChange({ apiKeyId: "k1", at: T0, deleted: false, enabled: true, maxScope: all });
    assert.equal(c.isWithdrawn(claims({ issuedAt: T0 })), false);
    // Issued a millisecond before the disable: the order is certain, the token stays withdrawn.
    assert.equal(c.isWithdrawn(claims({ issuedAt: T0 - 1 })), true);
  });

  it("forgets a revoked or rotated session once its last access token has expired, and not before", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now });
    c.revokeSession("s1", { apiKeyId: "k1", tokensExpireAt: T0 + 900_000 });
    c.rotateSession("s2", 2, { apiKeyId: "k1", tokensExpireAt: T0 + 60_000 });
    now = T0 + 59_999;
    assert.equal(c.isWithdrawn(claims({ sessionId: "s1", expiresAt: now + 1 })), true);
    assert.equal(c.isWithdrawn(claims({ sessionId: "s2", generation: 1, expiresAt: now + 1 })), true);
    now = T0 + 60_000;
    assert.equal(c.isWithdrawn(claims({ sessionId: "s2", generation: 1, expiresAt: now + 1 })), false);
    now = T0 + 900_000;
    assert.equal(c.isWithdrawn(claims({ sessionId: "s1", expiresAt: now + 1 })), false);
  });

  it("releases what it holds once the tokens are gone, even if nothing asks again", async () => {
    const c = new RevocationCache();
    for (let i = 0; i < 100; i++) {
      c.revokeSession(`closed-by-cap-${i}`, { apiKeyId: "k1", tokensExpireAt: Date.now() + 20 });
    }
    c.rotateSession("s1", 3, { apiKeyId: "k1", tokensExpireAt: Date.now() + 20 });
    assert.equal(c.stats().revokedSessions, 100);
    await new Promise((r) => setTimeout(r, 60));
    c.purge();
    assert.deepEqual(c.stats(), { revokedSessions: 0, rotatedSessions: 0, keys: 0, keySteps: 0 });
  });

  it("a rotation this gateway served is kept for the new tokens' lifetime, with a margin for clock skew", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now });
    c.rotateSession("s1", 2, { apiKeyId: "k1", accessLifetimeMs: 900_000 });
    now = T0 + 900_000 + 59_000;
    assert.equal(c.isWithdrawn(claims({ generation: 1, expiresAt: now + 1 })), true);
    now = T0 + 900_000 + 60_000;
    assert.equal(c.isWithdrawn(claims({ generation: 1, expiresAt: now + 1 })), false);
  });

  it("keeps nothing for a session's first generation: a grant withdraws nothing", () => {
    const c = new RevocationCache({ now: () => T0 });
    for (let i = 0; i < 1000; i++) c.rotateSession(`grant-${i}`, 0, { apiKeyId: "k1", tokensExpireAt: T0 + 900_000 });
    assert.equal(c.stats().rotatedSessions, 0);
  });

  it("without an end from auth, keeps a revocation as long as the longest access lifetime auth reports, beyond 8 days", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now });
    c.loadSnapshot({ revoked: [], generations: [], maxAccessTokenLifetimeMs: 30 * DAY });
    c.revokeSession("s1");
    c.applyKeyChange({ apiKeyId: "k1", at: T0, deleted: false, enabled: false, maxScope: [] });
    now = T0 + 20 * DAY;
    // Other traffic goes on meanwhile (writes are when a cache tidies up).
    c.revokeSession("unrelated", { apiKeyId: "k7", tokensExpireAt: now + 1000 });
    const longLived = claims({ sessionId: "s2", issuedAt: T0 - 1000, expiresAt: T0 + 30 * DAY - 1000 });
    assert.equal(c.isWithdrawn({ ...longLived, sessionId: "s1", apiKeyId: "k9" }), true, "revoked session");
    assert.equal(c.isWithdrawn(longLived), true, "disabled key");
    now = T0 + 31 * DAY + 120_000;
    assert.equal(c.isWithdrawn(claims({ sessionId: "s1", apiKeyId: "k9", issuedAt: now, expiresAt: now + 1 })), false);
  });

  it("before auth reports a lifetime, assumes the 90-day ceiling; a token living longer than reported teaches it", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now });
    c.applyKeyChange({ apiKeyId: "k1", at: T0, deleted: true, enabled: false, maxScope: [] });
    now = T0 + 80 * DAY;
    c.revokeSession("unrelated", { apiKeyId: "k7", tokensExpireAt: now + 1000 });
    const old = claims({ issuedAt: T0 - 1000, expiresAt: T0 + 85 * DAY });
    assert.equal(c.isWithdrawn(old), true);

    now = T0;
    const d = new RevocationCache({ now: () => now });
    d.loadSnapshot({ revoked: [], generations: [], maxAccessTokenLifetimeMs: DAY });
    d.applyKeyChange({ apiKeyId: "k1", at: T0, deleted: true, enabled: false, maxScope: [] });
    now = T0 + 2 * DAY;
    // Auth now signs tokens living 10 days (its configuration changed): the gateway learns it from one.
    const longer = claims({ issuedAt: T0 - 1000, expiresAt: T0 + 10 * DAY });
    assert.equal(d.isWithdrawn(longer), true);
  });

  it("6,000 renames of a key keep its state as small as one change, and its tokens' answers unchanged", () => {
    const c = new RevocationCache({ now: () => T0 + 10_000_000 });
    const all = ["user:read", "user:write", "pki:read"];
    c.applyKeyChange({ apiKeyId: "k1", at: T0 + 5000, deleted: false, enabled: true, maxScope: ["pki:read"] });
    for (let i = 0; i < 6000; i++) {
      c.applyKeyChange({ apiKeyId: "k1", at: T0 + 6000 + i, deleted: false, enabled: true, maxScope: ["pki:read"] });
    }
    c.applyKeyChange({ apiKeyId: "k2", at: T0 + 5000, deleted: false, enabled: true, maxScope: all });
    const stats = c.stats();
    assert.equal(stats.keys, 2);
    assert.ok(stats.keySteps <= 3, `${stats.keySteps} steps kept`);
    assert.equal(c.isWithdrawn(claims({ scope: ["user:read", "pki:read"] })), true);
    assert.equal(c.isWithdrawn(claims({ scope: ["pki:read"] })), false);
    assert.equal(c.isWithdrawn(claims({ scope: ["user:read"], issuedAt: T0 + 8000 })), true);
    assert.equal(c.isWithdrawn(claims({ scope: ["user:read"], issuedAt: T0 + 20_000 })), false);
    assert.equal(c.isWithdrawn(claims({ apiKeyId: "k2", scope: ["user:read"] })), false);
  });

  it("any sequence of key changes, applied in any order, answers exactly as the whole history would", () => {
    const rand = seeded(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const scopes = ["user:read", "user:write", "pki:read", "pkiadmin:read", "pkiadmin:write"];
    const subset = () => scopes.filter(() => rand() < 0.6);
    for (let round = 0; round < 200; round++) {
      const changes: KeyChange[] = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => {
        const kind = rand();
        return {
          apiKeyId: "k1",
          at: T0 + Math.floor(rand() * 5000),
          deleted: kind < 0.1,
          enabled: kind >= 0.25,
          maxScope: pick([subset(), ["user:read_write"], ["pki:read"], scopes]),
        };
      });
      const c = new RevocationCache({ now: () => T0 + 10_000 });
      for (const ch of [...changes].sort(() => rand() - 0.5)) c.applyKeyChange(ch);
      assert.ok(c.stats().keySteps <= scopes.length + 2);
      for (let i = 0; i < 40; i++) {
        // Often in the very millisecond of a change, whose order against the token is unknown.
        const issuedAt = rand() < 0.3 ? pick(changes).at : T0 - 500 + Math.floor(rand() * 6000);
        const token = claims({ issuedAt, scope: subset() });
        assert.equal(c.isWithdrawn(token), withdrawnByHistory(changes, token), JSON.stringify({ changes, token }));
      }
    }
  });

  it("bounded in size: a revocation pushed out for room still refuses the key's older tokens, never accepts them", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now, maxSessions: 100 });
    for (let i = 0; i < 150; i++) {
      now = T0 + i;
      c.revokeSession(`s${i}`, { apiKeyId: "k1", tokensExpireAt: T0 + 900_000 });
    }
    assert.equal(c.stats().revokedSessions, 100);
    now = T0 + 1000;
    for (let i = 0; i < 150; i++) {
      assert.equal(c.isWithdrawn(claims({ sessionId: `s${i}`, issuedAt: T0 - 10 })), true, `s${i}`);
    }
    // The key's live sessions lose their older access tokens too (a refresh gets new ones); later tokens work.
    assert.equal(c.isWithdrawn(claims({ sessionId: "live", issuedAt: T0 + 1000 })), false);
    assert.equal(c.isWithdrawn(claims({ sessionId: "live", apiKeyId: "k2", issuedAt: T0 - 10 })), false);
    // Once every token of the dropped sessions has expired, the key's older tokens are judged alone again.
    now = T0 + 900_000;
    assert.equal(c.isWithdrawn(claims({ sessionId: "live", issuedAt: T0 + 10, expiresAt: now + 1 })), false);
  });

  it("bounded in size: a key change pushed out for room refuses every token issued before it, never accepts one", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now, maxKeys: 5 });
    for (let i = 0; i < 8; i++) {
      now = T0 + i;
      c.applyKeyChange({ apiKeyId: `k${i}`, at: now, deleted: true, enabled: false, maxScope: [] });
    }
    assert.equal(c.stats().keys, 5);
    now = T0 + 100;
    for (let i = 0; i < 8; i++) assert.equal(c.isWithdrawn(claims({ apiKeyId: `k${i}`, issuedAt: T0 - 10 })), true);
    assert.equal(c.isWithdrawn(claims({ apiKeyId: "other", issuedAt: T0 + 100 })), false);
  });
});

describe("revocation cache: the per-key cap mark", () => {
  /** A token of key k1's session `sessionId`, created at `createdAt`. */
  const tokenOf = (sessionId: string, createdAt: number | undefined, over: Partial<AccessTokenClaims> = {}) =>
    claims({ sessionId, ...(createdAt === undefined ? {} : { sessionCreatedAt: createdAt }), ...over });
  const mark = { apiKeyId: "k1", createdAt: T0 - 100, sessionId: "m", tokensExpireAt: T0 + 60_000 };

  it("refuses tokens of the key's sessions at or before the mark (createdAt, then id), accepts those above", () => {
    const c = new RevocationCache({ now: () => T0 });
    c.raiseCapMark(mark);
    assert.throws(
      () => c.check(tokenOf("a", T0 - 5000)),
      (e: unknown) => e instanceof AppError && e.code === "auth.token_expired",
    );
    assert.equal(c.isWithdrawn(tokenOf("m", T0 - 100)), true, "the mark's own session");
    assert.equal(c.isWithdrawn(tokenOf("l", T0 - 100)), true, "same millisecond, id before");
    assert.equal(c.isWithdrawn(tokenOf("z", T0 - 100)), false, "same millisecond, id after");
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 99)), false, "created later");
    // Another key's sessions are not covered.
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 5000, { apiKeyId: "k2" })), false);
  });

  it("only rises: a lower mark (a late event) changes nothing, a later end extends it", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now });
    c.raiseCapMark(mark);
    c.raiseCapMark({ ...mark, createdAt: T0 - 1000, sessionId: "b", tokensExpireAt: T0 + 120_000 });
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 100)), true);
    c.raiseCapMark({ ...mark, createdAt: T0 - 50, sessionId: "c", tokensExpireAt: T0 + 1000 });
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 60)), true, "raised");
    now = T0 + 100_000;
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 60)), true, "until the latest end reported");
    now = T0 + 120_000;
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 60)), false, "forgotten once no token it covers can be valid");
  });

  it("is forgotten after the end of the tokens it covers, and a mark already past it is not taken", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now });
    c.raiseCapMark(mark);
    now = mark.tokensExpireAt - 1;
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 5000)), true);
    now = mark.tokensExpireAt;
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 5000)), false);
    const late = new RevocationCache({ now: () => now });
    late.raiseCapMark(mark);
    assert.equal(late.stats().keys, 0);
    assert.equal(late.isWithdrawn(tokenOf("a", T0 - 5000)), false);
  });

  it("a token without sct is refused while its key has a live mark (it predates the claim), accepted otherwise", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now });
    assert.equal(c.isWithdrawn(tokenOf("a", undefined)), false);
    c.raiseCapMark(mark);
    assert.equal(c.isWithdrawn(tokenOf("a", undefined)), true);
    assert.equal(c.isWithdrawn(tokenOf("a", undefined, { apiKeyId: "k2" })), false);
    now = mark.tokensExpireAt;
    assert.equal(c.isWithdrawn(tokenOf("a", undefined)), false);
  });

  it("a token of no session (a request token) stands above every mark of its key", () => {
    const c = new RevocationCache({ now: () => T0 });
    c.raiseCapMark(mark);
    assert.equal(c.isWithdrawn(tokenOf("req_x", SESSIONLESS_CREATED_AT)), false);
    c.applyKeyChange({ apiKeyId: "k1", at: T0, deleted: true, enabled: false, maxScope: [] });
    assert.equal(c.isWithdrawn(tokenOf("req_x", SESSIONLESS_CREATED_AT)), true, "a key change still withdraws it");
  });

  it("comes with the snapshot, beside the revoked sessions", () => {
    const c = new RevocationCache({ now: () => T0 });
    c.loadSnapshot({ revoked: [{ sessionId: "r", revokedAt: T0 - 1 }], generations: [], capMarks: [mark] });
    assert.equal(c.isLoaded(), true);
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 5000)), true);
    assert.equal(c.isWithdrawn(tokenOf("r", T0)), true);
    assert.equal(c.isWithdrawn(tokenOf("a", T0)), false);
  });

  it("bounded in size: a key state with a mark pushed out for room refuses the key's older tokens until the mark's end", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now, maxKeys: 2 });
    c.raiseCapMark(mark);
    now = T0 + 10;
    c.raiseCapMark({ ...mark, apiKeyId: "k2" });
    c.raiseCapMark({ ...mark, apiKeyId: "k3" });
    assert.equal(c.stats().keys, 2);
    // k1's state is gone: every token issued until then is refused, however its session stands to the mark.
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 5000, { issuedAt: T0 + 5 })), true);
    assert.equal(c.isWithdrawn(tokenOf("z", T0 - 1, { issuedAt: T0 + 5 })), true);
    // Tokens issued afterwards are judged as before: above the (forgotten) mark they work.
    assert.equal(c.isWithdrawn(tokenOf("z", T0 + 20, { issuedAt: T0 + 20 })), false);
    now = mark.tokensExpireAt;
    assert.equal(c.isWithdrawn(tokenOf("a", T0 - 5000, { issuedAt: T0 + 5, expiresAt: now + 1 })), false);
  });
});

const DAY = 86_400_000;

/** A small deterministic generator, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

/** The rule stated over the whole history of a key's changes, as a reference. */
function withdrawnByHistory(changes: readonly KeyChange[], t: AccessTokenClaims): boolean {
  const sorted = [...changes].sort((a, b) => a.at - b.at);
  const latest = sorted[sorted.length - 1] as KeyChange;
  const withdraws = (c: KeyChange) => c.deleted || !c.enabled || !scopesWithin(t.scope, c.maxScope);
  // A change in the token's own millisecond may have come before or after it: the key's current state decides.
  return sorted.some((c) => c.at >= t.issuedAt && withdraws(c) && (c.at > t.issuedAt || withdraws(latest)));
}
