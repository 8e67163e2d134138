import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { ALL_SCOPES } from "@pkiserver/kit/core";
import type { TestDeps } from "../testing/fixtures";
import { codeOf, ED25519_PRIVATE_PEM, ED25519_PUBLIC_PEM, errorData, makeDeps, SECRET } from "../testing/fixtures";
import { type AddApiKeyInput, addApiKey } from "./add-api-key";
import { getApiKey } from "./get-api-key";

const ALL = [...ALL_SCOPES];

function secretKey(overrides: Partial<AddApiKeyInput> = {}): AddApiKeyInput {
  return { name: "k", type: "secret", clientSecret: SECRET, maxScope: ["pki:read"], callerScope: ALL, ...overrides };
}

async function fill(deps: TestDeps, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await addApiKey(deps, secretKey());
}

describe("addApiKey", () => {
  it("stores the key's own rate limits and shows them", async () => {
    const deps = makeDeps();
    const { apiKeyId } = await addApiKey(deps, secretKey({ rateLimits: { pkiadmin: 20, auth: 1 } }));
    assert.deepEqual((await getApiKey(deps, apiKeyId)).rateLimits, { pkiadmin: 20, auth: 1 });
    assert.equal(await codeOf(addApiKey(deps, secretKey({ rateLimits: { pki: 0 } }))), "rpc.invalid_params");
  });

  it("stores a secret key with expanded scopes and returns an unguessable id", async () => {
    const deps = makeDeps();
    const { apiKeyId } = await addApiKey(deps, secretKey({ name: "ci", maxScope: ["user:read_write", "pki:read"] }));
    assert.match(apiKeyId, /^[0-9a-f]{24}$/);
    const view = await getApiKey(deps, apiKeyId);
    assert.deepEqual(view, {
      apiKeyId,
      name: "ci",
      enabled: true,
      maxScope: ["user:read", "user:write", "pki:read"],
      type: "secret",
      createDate: deps.clock.now(),
    });
    const stored = await deps.store.get(apiKeyId);
    assert.ok(stored?.sealedSecret);
    assert.ok(!JSON.stringify(stored).includes(SECRET), "the plain secret is never stored");
    assert.equal(deps.events.events[0]?.type, "created");
  });

  it("stores a public-key key with its normalised SPKI PEM", async () => {
    const deps = makeDeps();
    const { apiKeyId } = await addApiKey(deps, {
      name: "signer",
      type: "pubKey",
      clientPublicKey: ED25519_PUBLIC_PEM.trimEnd(),
      maxScope: [],
      callerScope: ALL,
    });
    const view = await getApiKey(deps, apiKeyId);
    assert.equal(view.type, "pubKey");
    assert.equal(view.clientPublicKey, ED25519_PUBLIC_PEM);
    assert.equal((await deps.store.get(apiKeyId))?.sealedSecret, undefined);
  });

  it("bounds maxScope and rate limits with the contract's fields", async () => {
    const deps = makeDeps();
    assert.equal(
      await errorData(addApiKey(deps, secretKey({ maxScope: ["pki:read", "x".repeat(257)] }))),
      "maxScope -> 1 -> Invalid length! Expected max 256, get 257",
    );
    assert.equal(
      await errorData(addApiKey(deps, secretKey({ maxScope: Array.from({ length: 129 }, () => "pki:read") }))),
      "maxScope -> Invalid length! Expected max 128, get 129",
    );
    assert.equal(
      await errorData(addApiKey(deps, secretKey({ rateLimits: { pki: 0 } }))),
      "rateLimits -> pki -> Invalid value! Expected min 1, get 0",
    );
    assert.equal(await codeOf(addApiKey(deps, secretKey({ rateLimits: { pki: 5, auth: undefined } }))), "ok");
  });

  it("rejects a secret outside 32..256 characters with -32602 naming clientSecret", async () => {
    const deps = makeDeps();
    assert.equal(
      await errorData(addApiKey(deps, secretKey({ clientSecret: "short-secret" }))),
      "clientSecret -> Invalid length! Expected min 32, get 12",
    );
    assert.equal(
      await errorData(addApiKey(deps, secretKey({ clientSecret: "s".repeat(257) }))),
      "clientSecret -> Invalid length! Expected max 256, get 257",
    );
    assert.equal(await codeOf(addApiKey(deps, secretKey({ clientSecret: "s".repeat(32) }))), "ok");
  });

  it("rejects a private-key PEM, an RSA key, an EC key and garbage with -32602 naming clientPubKey", async () => {
    const deps = makeDeps();
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" });
    for (const pem of [ED25519_PRIVATE_PEM, rsa.toString(), ec.toString(), "not a key", "x".repeat(10_000)]) {
      const input: AddApiKeyInput = { name: "", type: "pubKey", clientPublicKey: pem, maxScope: [], callerScope: ALL };
      assert.match(String(await errorData(addApiKey(deps, input))), /^clientPubKey -> /);
    }
    assert.equal((await deps.store.list()).length, 0);
  });

  it("rejects a missing type, a missing credential or both credentials with -32602", async () => {
    const deps = makeDeps();
    assert.match(String(await errorData(addApiKey(deps, secretKey({ type: undefined })))), /^type -> /);
    assert.equal(
      await errorData(addApiKey(deps, secretKey({ clientSecret: undefined }))),
      "Key 'clientSecret' is required",
    );
    assert.equal(
      await errorData(addApiKey(deps, secretKey({ clientPublicKey: ED25519_PUBLIC_PEM }))),
      "Unexpected key 'clientPubKey'",
    );
    assert.equal(
      await errorData(addApiKey(deps, { name: "", type: "pubKey", maxScope: [], callerScope: ALL })),
      "Key 'clientPubKey' is required",
    );
  });

  it("rejects modifiers and unknown scopes in maxScope with -32602 naming the entry", async () => {
    const deps = makeDeps();
    for (const scope of ["session:abc", "ipAddr:127.0.0.1", "expiresIn:1000", "admin", "pki:delete"]) {
      const data = await errorData(addApiKey(deps, secretKey({ maxScope: ["pki:read", scope] })));
      assert.match(String(data), /^maxScope -> 1 -> /, scope);
    }
  });

  it("refuses with 73 a key with scopes the caller does not hold", async () => {
    const deps = makeDeps();
    const callerScope = ["user:read_write", "pki:read"];
    assert.equal(
      await codeOf(addApiKey(deps, secretKey({ maxScope: ["pkiadmin:read"], callerScope }))),
      "auth.insufficient_scope",
    );
    assert.equal(await codeOf(addApiKey(deps, secretKey({ maxScope: ["user:write"], callerScope }))), "ok");
    assert.equal((await deps.store.list()).length, 1);
  });

  it("refuses the 11th key with 72", async () => {
    const deps = makeDeps();
    await fill(deps, 10);
    assert.equal(await codeOf(addApiKey(deps, secretKey())), "apikey.too_many");
    assert.equal((await deps.store.list()).length, 10);
  });

  it("lets only one of concurrent adds at 9 keys through", async () => {
    const deps = makeDeps();
    await fill(deps, 9);
    const results = await Promise.all(Array.from({ length: 4 }, () => codeOf(addApiKey(deps, secretKey()))));
    assert.equal(results.filter((r) => r === "ok").length, 1);
    assert.equal(results.filter((r) => r === "apikey.too_many").length, 3);
    assert.equal((await deps.store.list()).length, 10);
  });
});
