import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALL_SCOPES } from "@pkiserver/kit/core";
import { codeOf, INIT_TOKEN, makeDeps } from "../testing/fixtures";
import { createFirstApiKey } from "./create-first-api-key";
import { deleteApiKey } from "./delete-api-key";
import { getApiKey } from "./get-api-key";
import { verifySecret } from "./verify-secret";

describe("createFirstApiKey", () => {
  it("creates an enabled secret key with every scope and a random secret that verifies", async () => {
    const deps = makeDeps();
    const res = await createFirstApiKey(deps, { initializationToken: INIT_TOKEN, name: "root" });
    assert.match(res.apiKeyId, /^[0-9a-f]{24}$/);
    assert.match(res.apiKeySecret, /^[A-Za-z0-9_-]{43}$/);
    const key = await getApiKey(deps, res.apiKeyId);
    assert.deepEqual(key.maxScope, [...ALL_SCOPES]);
    assert.equal(key.enabled, true);
    assert.equal(key.type, "secret");
    assert.equal(key.name, "root");
    assert.equal(
      (await verifySecret(deps, { apiKeyId: res.apiKeyId, secret: res.apiKeySecret })).apiKeyId,
      res.apiKeyId,
    );
    const other = await createFirstApiKey(makeDeps(), { initializationToken: INIT_TOKEN, name: "" });
    assert.notEqual(other.apiKeySecret, res.apiKeySecret);
    assert.notEqual(other.apiKeyId, res.apiKeyId);
  });

  it("refuses with 97 when the token is unset, empty or different", async () => {
    for (const initializationToken of [undefined, ""]) {
      const deps = makeDeps({ initializationToken });
      assert.equal(
        await codeOf(createFirstApiKey(deps, { initializationToken: "", name: "" })),
        "apikey.initialization_token_invalid",
      );
      assert.equal(
        await codeOf(createFirstApiKey(deps, { initializationToken: "anything", name: "" })),
        "apikey.initialization_token_invalid",
      );
    }
    const deps = makeDeps();
    for (const wrong of ["nope", INIT_TOKEN.slice(0, -1), `${INIT_TOKEN}x`, INIT_TOKEN.toUpperCase()]) {
      assert.equal(
        await codeOf(createFirstApiKey(deps, { initializationToken: wrong, name: "" })),
        "apikey.initialization_token_invalid",
      );
    }
    assert.equal((await deps.store.list()).length, 0);
  });

  it("refuses with 96 once a key exists, and works again after every key is deleted", async () => {
    const deps = makeDeps();
    const first = await createFirstApiKey(deps, { initializationToken: INIT_TOKEN, name: "" });
    assert.equal(
      await codeOf(createFirstApiKey(deps, { initializationToken: INIT_TOKEN, name: "" })),
      "apikey.first_key_exists",
    );
    await deleteApiKey(deps, { apiKeyId: first.apiKeyId, callerScope: ALL_SCOPES });
    const again = await createFirstApiKey(deps, { initializationToken: INIT_TOKEN, name: "" });
    assert.notEqual(again.apiKeyId, first.apiKeyId);
  });

  it("lets exactly one of concurrent calls succeed", async () => {
    const deps = makeDeps();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => codeOf(createFirstApiKey(deps, { initializationToken: INIT_TOKEN, name: "" }))),
    );
    assert.deepEqual(results.filter((r) => r === "ok").length, 1);
    assert.deepEqual(results.filter((r) => r === "apikey.first_key_exists").length, 5);
  });

  it("never stores the secret in plain text, and seals it to its own key id", async () => {
    const deps = makeDeps();
    const res = await createFirstApiKey(deps, { initializationToken: INIT_TOKEN, name: "" });
    const stored = await deps.store.get(res.apiKeyId);
    assert.ok(stored?.sealedSecret);
    assert.ok(!JSON.stringify(stored).includes(res.apiKeySecret));
    assert.equal(deps.secrets.open(stored.sealedSecret, res.apiKeyId), res.apiKeySecret);
    assert.throws(() => deps.secrets.open(stored.sealedSecret as string, "another-key-id"));
  });

  it("announces the key without its secret", async () => {
    const deps = makeDeps();
    const res = await createFirstApiKey(deps, { initializationToken: INIT_TOKEN, name: "root" });
    assert.equal(deps.events.events.length, 1);
    const ev = deps.events.events[0];
    assert.equal(ev?.type, "created");
    assert.ok(!JSON.stringify(ev).includes(res.apiKeySecret));
  });

  it("rejects a name longer than 128 characters with -32602", async () => {
    const deps = makeDeps();
    assert.equal(
      await codeOf(createFirstApiKey(deps, { initializationToken: INIT_TOKEN, name: "n".repeat(129) })),
      "rpc.invalid_params",
    );
  });
});
