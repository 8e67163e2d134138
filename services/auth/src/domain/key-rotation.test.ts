import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { settledCode } from "@pkiserver/kit/core";
import { type Harness, harness, SECRET } from "../testing/fixtures";
import { endExpiredCredentials, onApiKeyRotated } from "./api-key-changes";
import { RevokeReason } from "./entities";
import { forkToken } from "./fork-token";
import { issueTokenForClient } from "./issue-token";
import { refreshSession } from "./refresh-session";

const NEW_SECRET = "a-new-secret-of-more-than-thirty-two-chars";
const THIRD_SECRET = "a-third-secret-of-more-than-thirty-two-chars";

const login = (h: Harness, clientSecret = SECRET) =>
  issueTokenForClient(h.deps, { type: "client_credentials", clientId: h.keyOne, clientSecret, scope: [] });

/** Rotates the harness key's secret in apikey, and hands auth the event. */
async function rotate(h: Harness, secret: string, graceMs: number) {
  const rotated = await h.apikey.rotate(h.keyOne, secret, graceMs);
  return onApiKeyRotated(h.deps, { apiKeyId: h.keyOne, ...rotated });
}

const code = settledCode;

const liveIds = async (h: Harness) => (await h.sessions.listLive(h.keyOne, h.clock.t)).map((s) => s.id).sort();

describe("sessions and API-key rotation (API.md section 10)", () => {
  it("sessions of the previous credential live until the grace period ends, then are revoked as key_rotated", async () => {
    const h = await harness();
    const old = await login(h);
    assert.deepEqual(await rotate(h, NEW_SECRET, 1500), []);
    const fresh = await login(h, NEW_SECRET);
    h.clock.advance(1499);
    assert.deepEqual(await endExpiredCredentials(h.deps), []);
    assert.deepEqual(await liveIds(h), [old.sessionId, fresh.sessionId].sort());
    h.clock.advance(1);
    const revoked = await endExpiredCredentials(h.deps);
    assert.deepEqual(
      revoked.map((s) => s.id),
      [old.sessionId],
    );
    assert.deepEqual(h.events.revoked(), [{ id: old.sessionId, reason: RevokeReason.keyRotated }]);
    assert.deepEqual(await liveIds(h), [fresh.sessionId]);
  });

  it("a session opened with the previous secret during the grace period, and its forks, end with it", async () => {
    const h = await harness();
    await rotate(h, NEW_SECRET, 1000);
    h.clock.advance(400);
    const late = await login(h, SECRET);
    assert.equal((await h.sessions.get(late.sessionId))?.credentialExpiresAt, h.clock.t + 600);
    const fork = await forkToken(h.deps, late.refreshToken, "fork", "");
    h.clock.advance(600);
    const revoked = await endExpiredCredentials(h.deps);
    assert.deepEqual(revoked.map((s) => s.id).sort(), [late.sessionId, fork.sessionId].sort());
    assert.equal(await code(login(h, SECRET)), "auth.invalid_credentials");
    assert.equal(await code(login(h, NEW_SECRET)), "ok");
  });

  it("a refresh or fork after the grace period fails with 75 and revokes the session, sweep or not", async () => {
    const h = await harness();
    const a = await login(h);
    const b = await login(h);
    await rotate(h, NEW_SECRET, 1000);
    h.clock.advance(1000);
    assert.equal(await code(refreshSession(h.deps, a.refreshToken, "")), "auth.token_expired");
    assert.equal(await code(forkToken(h.deps, b.refreshToken, "x", "")), "auth.token_expired");
    assert.deepEqual(
      h.events.revoked().map((r) => r.reason),
      [RevokeReason.keyRotated, RevokeReason.keyRotated],
    );
  });

  it("a grace period of 0 revokes the previous credential's sessions when the rotation is handled", async () => {
    const h = await harness();
    const old = await login(h);
    const revoked = await rotate(h, NEW_SECRET, 0);
    assert.deepEqual(
      revoked.map((s) => s.id),
      [old.sessionId],
    );
    assert.deepEqual(await liveIds(h), []);
  });

  it("a second rotation ends the oldest credential's sessions at once and leaves the previous one its grace", async () => {
    const h = await harness();
    const first = await login(h);
    await rotate(h, NEW_SECRET, 10_000);
    const second = await login(h, NEW_SECRET);
    const revoked = await rotate(h, THIRD_SECRET, 10_000);
    assert.deepEqual(
      revoked.map((s) => s.id),
      [first.sessionId],
    );
    const third = await login(h, THIRD_SECRET);
    assert.deepEqual(await liveIds(h), [second.sessionId, third.sessionId].sort());
    h.clock.advance(10_000);
    await endExpiredCredentials(h.deps);
    assert.deepEqual(await liveIds(h), [third.sessionId]);
  });

  it("handling a rotation again, or an older one, revokes nothing more", async () => {
    const h = await harness();
    await login(h);
    await rotate(h, NEW_SECRET, 5000);
    const fresh = await login(h, NEW_SECRET);
    const again = await onApiKeyRotated(h.deps, {
      apiKeyId: h.keyOne,
      credentialGeneration: 1,
      previousCredentialExpiresAt: h.clock.t + 5000,
    });
    assert.deepEqual(again, []);
    assert.equal((await h.sessions.get(fresh.sessionId))?.credentialExpiresAt, undefined);
    assert.equal((await liveIds(h)).length, 2);
  });

  it("a grant checked just before a rotation, stored after its event, still ends with the previous credential", async () => {
    const h = await harness();
    // apikey answered for generation 0 while it was the newest; the rotation and its event came next.
    const apikeys = h.deps.apikeys;
    h.deps.apikeys = {
      ...apikeys,
      verifySecret: async (id, secret, attempt) => {
        const answer = await apikeys.verifySecret(id, secret, attempt);
        await rotate(h, NEW_SECRET, 1000);
        return answer;
      },
    };
    const raced = await login(h);
    assert.equal((await h.sessions.get(raced.sessionId))?.credentialExpiresAt, h.clock.t + 1000);
    h.clock.advance(1000);
    assert.deepEqual(
      (await endExpiredCredentials(h.deps)).map((s) => s.id),
      [raced.sessionId],
    );
  });
});
