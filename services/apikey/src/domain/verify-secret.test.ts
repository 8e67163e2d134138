import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALL_SCOPES } from "@pkiserver/kit/core";
import { addSecretKey, codeOf, ED25519_PUBLIC_PEM, makeDeps, SECRET } from "../testing/fixtures";
import { addApiKey } from "./add-api-key";
import { rotateApiKey } from "./rotate-api-key";
import { updateApiKey } from "./update-api-key";
import { verifySecret } from "./verify-secret";

const ALL = [...ALL_SCOPES];

describe("verifySecret", () => {
  it("accepts the right secret of an enabled secret key and returns the key", async () => {
    const deps = makeDeps();
    const apiKeyId = await addSecretKey(deps, { maxScope: ["pki:read"] });
    const key = await verifySecret(deps, { apiKeyId, secret: SECRET });
    assert.deepEqual(key.maxScope, ["pki:read"]);
  });

  it("answers 12 for a wrong secret and for a disabled key", async () => {
    const deps = makeDeps();
    const apiKeyId = await addSecretKey(deps);
    for (const secret of ["", SECRET.slice(0, -1), `${SECRET}x`, SECRET.toUpperCase(), "s".repeat(10_000)]) {
      assert.equal(await codeOf(verifySecret(deps, { apiKeyId, secret })), "auth.invalid_credentials");
    }
    await updateApiKey(deps, { apiKeyId, enabled: false, callerScope: ALL });
    assert.equal(await codeOf(verifySecret(deps, { apiKeyId, secret: SECRET })), "auth.invalid_credentials");
  });

  it("answers 12 for a public-key key whatever secret is given", async () => {
    const deps = makeDeps();
    const { apiKeyId } = await addApiKey(deps, {
      name: "",
      type: "pubKey",
      clientPublicKey: ED25519_PUBLIC_PEM,
      maxScope: [],
      callerScope: ALL,
    });
    assert.equal(
      await codeOf(verifySecret(deps, { apiKeyId, secret: ED25519_PUBLIC_PEM })),
      "auth.invalid_credentials",
    );
    assert.equal(await codeOf(verifySecret(deps, { apiKeyId, secret: "" })), "auth.invalid_credentials");
  });

  it("answers 71 for an unknown key", async () => {
    assert.equal(
      await codeOf(verifySecret(makeDeps(), { apiKeyId: "0123456789abcdef01234567", secret: SECRET })),
      "apikey.not_found",
    );
  });

  it("does not accept a sealed secret moved to another key", async () => {
    const deps = makeDeps();
    const input = { name: "", type: "secret" as const, maxScope: [], callerScope: ALL };
    const a = await addApiKey(deps, { ...input, clientSecret: SECRET });
    const b = await addApiKey(deps, { ...input, clientSecret: "b".repeat(40) });
    const sealedA = (await deps.store.get(a.apiKeyId))?.sealedSecret;
    const recordB = await deps.store.get(b.apiKeyId);
    assert.ok(sealedA && recordB);
    await deps.store.delete(b.apiKeyId);
    await deps.store.insert({ ...recordB, sealedSecret: sealedA }, 10);
    await assert.rejects(verifySecret(deps, { apiKeyId: b.apiKeyId, secret: SECRET }));
  });
});

describe("verifySecret reports its verdict, while every refusal answers alike", () => {
  const attempt = { method: "basic", clientIp: "203.0.113.7", requestId: "req-1" };

  it("names an unknown key, a wrong secret, a rotated-away secret and a disabled key, with the attempt", async () => {
    const deps = makeDeps();
    const input = { name: "", type: "secret" as const, maxScope: [], callerScope: ALL };
    const { apiKeyId } = await addApiKey(deps, { ...input, clientSecret: SECRET });
    const unknown = "0123456789abcdef01234567";
    assert.equal(await codeOf(verifySecret(deps, { apiKeyId: unknown, secret: SECRET, attempt })), "apikey.not_found");
    assert.equal(
      await codeOf(verifySecret(deps, { apiKeyId, secret: "w".repeat(40), attempt })),
      "auth.invalid_credentials",
    );
    // Rotated with a one-second grace: the old secret works, then is refused as expired.
    const newer = "n".repeat(40);
    await rotateApiKey(deps, { apiKeyId, clientSecret: newer, gracePeriod: 1000, callerScope: ALL });
    await verifySecret(deps, { apiKeyId, secret: SECRET, attempt });
    deps.clock.set(deps.clock.now() + 1000);
    assert.equal(await codeOf(verifySecret(deps, { apiKeyId, secret: SECRET, attempt })), "auth.invalid_credentials");
    await updateApiKey(deps, { apiKeyId, enabled: false, callerScope: ALL });
    assert.equal(await codeOf(verifySecret(deps, { apiKeyId, secret: newer, attempt })), "auth.invalid_credentials");
    // A wrong secret of a disabled key is a wrong secret: only the credential's holder is told apart.
    assert.equal(
      await codeOf(verifySecret(deps, { apiKeyId, secret: SECRET.toUpperCase() })),
      "auth.invalid_credentials",
    );

    assert.deepEqual(
      deps.events.refusals.map((r) => [r.reason, r.apiKeyId]),
      [
        ["unknown_key", unknown],
        ["wrong_secret", apiKeyId],
        ["expired_key", apiKeyId],
        ["disabled_key", apiKeyId],
        ["wrong_secret", apiKeyId],
      ],
    );
    const first = deps.events.refusals[0];
    assert.deepEqual({ ...first, at: 0 }, { ...attempt, reason: "unknown_key", apiKeyId: unknown, at: 0 });
    // A caller that describes no attempt still gets its refusal reported.
    assert.equal(deps.events.refusals[4]?.method, "");
    assert.ok(!JSON.stringify(deps.events.refusals).includes(SECRET), "no secret in a verdict");
  });

  it("reports nothing when the secret holds", async () => {
    const deps = makeDeps();
    const input = { name: "", type: "secret" as const, maxScope: [], callerScope: ALL };
    const { apiKeyId } = await addApiKey(deps, { ...input, clientSecret: SECRET });
    await verifySecret(deps, { apiKeyId, secret: SECRET, attempt });
    assert.deepEqual(deps.events.refusals, []);
  });
});
