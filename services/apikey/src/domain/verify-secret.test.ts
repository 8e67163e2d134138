import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALL_SCOPES } from "@pkiserver/kit/core";
import { addSecretKey, codeOf, ED25519_PUBLIC_PEM, makeDeps, SECRET } from "../testing/fixtures";
import { addApiKey } from "./add-api-key";
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
