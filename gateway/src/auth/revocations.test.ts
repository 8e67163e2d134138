import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit";
import { RevocationCache } from "./revocations";
import type { TokenClaims } from "./token-verifier";

const T0 = 1_800_000_000_000;

function claims(over: Partial<TokenClaims> = {}): TokenClaims {
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

  it("within the token's one-second iat resolution follows the key's current state", () => {
    const c = new RevocationCache({ now: () => T0 });
    const all = ["user:read", "pki:read"];
    // Disabled 300 ms into the second the token was issued in: order unknown, key still disabled.
    c.applyKeyChange({ apiKeyId: "k1", at: T0 + 300, deleted: false, enabled: false, maxScope: all });
    assert.equal(c.isWithdrawn(claims({ issuedAt: T0 })), true);
    // Re-enabled in the same second: a token issued in that second is allowed again.
    c.applyKeyChange({ apiKeyId: "k1", at: T0 + 600, deleted: false, enabled: true, maxScope: all });
    assert.equal(c.isWithdrawn(claims({ issuedAt: T0 })), false);
  });

  it("forgets entries older than its retention", () => {
    let now = T0;
    const c = new RevocationCache({ now: () => now, retentionMs: 10_000 });
    c.revokeSession("s1");
    now = T0 + 120_000;
    c.revokeSession("s2");
    assert.equal(c.isWithdrawn(claims({ sessionId: "s1" })), false);
    assert.equal(c.isWithdrawn(claims({ sessionId: "s2" })), true);
  });
});
