import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALL_SCOPES } from "@pkiserver/kit/core";
import { addSecretKey, codeOf, makeDeps, SECRET } from "../testing/fixtures";
import { addApiKey } from "./add-api-key";
import { deleteApiKey } from "./delete-api-key";
import { getApiKey } from "./get-api-key";
import { listApiKeys } from "./list-api-keys";

describe("getApiKey, listApiKeys, deleteApiKey", () => {
  it("lists public views only, never a secret in any form", async () => {
    const deps = makeDeps();
    const input = {
      type: "secret" as const,
      clientSecret: SECRET,
      maxScope: ["pki:read"],
      callerScope: [...ALL_SCOPES],
    };
    const a = await addApiKey(deps, { ...input, name: "a" });
    deps.clock.set(deps.clock.now() + 1);
    const b = await addApiKey(deps, { ...input, name: "b" });
    const list = await listApiKeys(deps);
    assert.deepEqual(
      list.map((k) => k.apiKeyId),
      [a.apiKeyId, b.apiKeyId],
    );
    for (const k of list) {
      assert.deepEqual(Object.keys(k).sort(), ["apiKeyId", "createDate", "enabled", "maxScope", "name", "type"]);
    }
  });

  it("answers 71 for unknown and malformed ids", async () => {
    const deps = makeDeps();
    for (const id of ["0123456789abcdef01234567", "", "x".repeat(200)]) {
      assert.equal(await codeOf(getApiKey(deps, id)), "apikey.not_found");
      assert.equal(await codeOf(deleteApiKey(deps, { apiKeyId: id, callerScope: [] })), "apikey.not_found");
    }
  });

  it("deletes a key, announces it, and answers 71 afterwards", async () => {
    const deps = makeDeps();
    const apiKeyId = await addSecretKey(deps, { callerScope: [] });
    await deleteApiKey(deps, { apiKeyId, callerScope: [] });
    assert.deepEqual(deps.events.events.at(-1), { type: "deleted", apiKeyId, at: deps.clock.now() });
    assert.equal(await codeOf(getApiKey(deps, apiKeyId)), "apikey.not_found");
    assert.equal(await codeOf(deleteApiKey(deps, { apiKeyId, callerScope: [] })), "apikey.not_found");
  });
});
