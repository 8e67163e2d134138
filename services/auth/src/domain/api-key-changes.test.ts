import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit/core";
import { type Harness, harness, SECRET } from "../testing/fixtures";
import { onApiKeyDeleted, onApiKeyUpdated } from "./api-key-changes";
import { RevokeReason } from "./entities";
import { forkToken } from "./fork-token";
import { issueTokenForClient } from "./issue-token";

const login = (h: Harness, scope: string[] = [], clientId = h.keyOne) =>
  issueTokenForClient(h.deps, { type: "client_credentials", clientId, clientSecret: SECRET, scope });
const ALL = ["user:read_write", "pki:read_write", "pkiadmin:read_write"];

describe("revocation on API-key changes", () => {
  it("disabling a key revokes all its sessions; re-enabling revives nothing; other keys are untouched", async () => {
    const h = await harness();
    const keyTwo = await h.apikey.add({ maxScope: ALL, secret: SECRET });
    const a = await login(h);
    const b = await login(h, ["pki:read"]);
    const other = await login(h, [], keyTwo);
    const revoked = await onApiKeyUpdated(h.deps, {
      apiKeyId: h.keyOne,
      enabled: false,
      maxScope: ALL,
      at: h.clock.t,
    });
    assert.deepEqual(revoked.map((s) => s.id).sort(), [a.sessionId, b.sessionId].sort());
    assert.deepEqual(
      h.events.revoked().map((r) => r.reason),
      [RevokeReason.apiKeyDisabled, RevokeReason.apiKeyDisabled],
    );
    await onApiKeyUpdated(h.deps, { apiKeyId: h.keyOne, enabled: true, maxScope: ALL, at: h.clock.t + 1 });
    assert.deepEqual(await h.sessions.listLive(h.keyOne, h.clock.t), []);
    assert.equal((await h.sessions.listLive(keyTwo, h.clock.t)).length, 1);
    assert.equal((await h.sessions.get(other.sessionId))?.revokedAt, undefined);
  });

  it("deleting a key revokes all its sessions, also ones opened after the event's timestamp", async () => {
    const h = await harness();
    const a = await login(h);
    h.clock.advance(60_000);
    const b = await login(h);
    const revoked = await onApiKeyDeleted(h.deps, { apiKeyId: h.keyOne });
    assert.deepEqual(revoked.map((s) => s.id).sort(), [a.sessionId, b.sessionId].sort());
    assert.deepEqual(await h.sessions.listLive(h.keyOne, h.clock.t), []);
  });

  it("narrowing maxScope revokes exactly the sessions it no longer covers", async () => {
    const h = await harness();
    const readOnly = await login(h, ["pki:read"]);
    const writer = await login(h, ["user:read", "user:write"]);
    const full = await login(h);
    const revoked = await onApiKeyUpdated(h.deps, {
      apiKeyId: h.keyOne,
      enabled: true,
      maxScope: ["pki:read", "user:read"],
      at: h.clock.t,
    });
    assert.deepEqual(revoked.map((s) => s.id).sort(), [writer.sessionId, full.sessionId].sort());
    assert.equal((await h.sessions.get(readOnly.sessionId))?.revokedAt, undefined);
    assert.ok(h.events.revoked().every((r) => r.reason === RevokeReason.scopeNarrowed));
  });

  it("handling an event twice is harmless: nothing more is revoked or announced", async () => {
    const h = await harness();
    await login(h);
    const e = { apiKeyId: h.keyOne, enabled: false, maxScope: ALL, at: h.clock.t };
    assert.equal((await onApiKeyUpdated(h.deps, e)).length, 1);
    assert.deepEqual(await onApiKeyUpdated(h.deps, e), []);
    assert.deepEqual(await onApiKeyDeleted(h.deps, { apiKeyId: h.keyOne }), []);
    assert.equal(h.events.revoked().length, 1);
  });

  it("replaying an old disable or narrowing leaves sessions opened well after it alone", async () => {
    const h = await harness();
    const at = h.clock.t;
    h.clock.advance(3_600_000);
    const later = await login(h);
    assert.deepEqual(await onApiKeyUpdated(h.deps, { apiKeyId: h.keyOne, enabled: false, maxScope: ALL, at }), []);
    assert.deepEqual(await onApiKeyUpdated(h.deps, { apiKeyId: h.keyOne, enabled: true, maxScope: [], at }), []);
    assert.equal((await h.sessions.get(later.sessionId))?.revokedAt, undefined);
  });

  describe("a change landing between the key check and the session being stored", () => {
    const code = (c: string) => (err: unknown) => err instanceof AppError && err.code === c;
    const changes: Record<string, (h: Harness) => Promise<unknown>> = {
      disabled: async (h) => {
        await h.apikey.update(h.keyOne, { enabled: false });
        return onApiKeyUpdated(h.deps, { apiKeyId: h.keyOne, enabled: false, maxScope: ALL, at: h.clock.t });
      },
      narrowed: async (h) => {
        await h.apikey.update(h.keyOne, { maxScope: ["pki:read"] });
        return onApiKeyUpdated(h.deps, { apiKeyId: h.keyOne, enabled: true, maxScope: ["pki:read"], at: h.clock.t });
      },
      deleted: async (h) => {
        await h.apikey.delete(h.keyOne);
        return onApiKeyDeleted(h.deps, { apiKeyId: h.keyOne });
      },
    };
    const grantErrors: Record<string, string> = {
      disabled: "auth.invalid_credentials",
      narrowed: "auth.insufficient_scope",
      deleted: "apikey.not_found",
    };

    for (const [name, change] of Object.entries(changes)) {
      it(`a grant whose key is ${name} (its event handled) after the credential check opens no live session`, async () => {
        const h = await harness();
        const apikeys = h.deps.apikeys;
        h.deps.apikeys = {
          ...apikeys,
          verifySecret: async (id, secret, attempt) => {
            const info = await apikeys.verifySecret(id, secret, attempt);
            await change(h);
            return info;
          },
        };
        await assert.rejects(login(h, ["user:read_write"]), code(grantErrors[name] as string));
        assert.deepEqual(await h.sessions.listLive(h.keyOne, h.clock.t), []);
      });

      it(`a fork whose key is ${name} (its event handled) after the key check opens no live session`, async () => {
        const h = await harness();
        const source = await login(h, ["user:read_write"]);
        const apikeys = h.deps.apikeys;
        h.deps.apikeys = {
          ...apikeys,
          getApiKey: async (id) => {
            const info = await apikeys.getApiKey(id);
            h.deps.apikeys = apikeys;
            await change(h);
            return info;
          },
        };
        await assert.rejects(forkToken(h.deps, source.refreshToken, "fork", ""), code("auth.token_expired"));
        assert.deepEqual(await h.sessions.listLive(h.keyOne, h.clock.t), []);
      });
    }
  });
});
