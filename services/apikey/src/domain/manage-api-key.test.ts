import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALL_SCOPES, type Scope } from "@pkiserver/kit/core";
import { MemoryApiKeyStore } from "../storage/memory-api-key-store";
import { addSecretKey, codeOf, makeDeps, type TestDeps } from "../testing/fixtures";
import { deleteApiKey } from "./delete-api-key";
import type { ApiKeyRecord } from "./entities";
import { getApiKey } from "./get-api-key";
import { mayManage } from "./manage-api-key";
import { updateApiKey } from "./update-api-key";

const ALL = [...ALL_SCOPES];
const USER_ADMIN = ["user:read_write"];

/**
 * A store on which another writer widens a key's maxScope right after the use
 * case has read it: the interleaving a check-then-write would let through.
 */
class WideningStore extends MemoryApiKeyStore {
  widen: { id: string; maxScope: Scope[] } | undefined;
  override async get(id: string): Promise<ApiKeyRecord | undefined> {
    const read = await super.get(id);
    const w = this.widen;
    if (w?.id === id) {
      this.widen = undefined;
      await super.update(id, { maxScope: w.maxScope });
    }
    return read;
  }
}

async function setup(targetScope: string[], store = new MemoryApiKeyStore()) {
  const deps: TestDeps = { ...makeDeps(), store };
  const apiKeyId = await addSecretKey(deps, { name: "target", maxScope: targetScope });
  deps.events.events.length = 0;
  return { deps, apiKeyId, before: await getApiKey(deps, apiKeyId) };
}

describe("managing a key needs every scope of its maxScope (API.md section 6)", () => {
  it("a user:read_write caller can neither enable, disable, narrow, rename nor delete a pkiadmin key (73)", async () => {
    const { deps, apiKeyId, before } = await setup(["user:read_write", "pkiadmin:read_write"]);
    const attempts = [
      updateApiKey(deps, { apiKeyId, enabled: false, callerScope: USER_ADMIN }),
      updateApiKey(deps, { apiKeyId, enabled: true, callerScope: USER_ADMIN }),
      updateApiKey(deps, { apiKeyId, maxScope: ["user:read"], callerScope: USER_ADMIN }),
      updateApiKey(deps, { apiKeyId, maxScope: [], callerScope: USER_ADMIN }),
      updateApiKey(deps, { apiKeyId, name: "renamed", callerScope: USER_ADMIN }),
      updateApiKey(deps, { apiKeyId, callerScope: USER_ADMIN }),
      deleteApiKey(deps, { apiKeyId, callerScope: USER_ADMIN }),
    ];
    for (const attempt of attempts) assert.equal(await codeOf(attempt), "auth.insufficient_scope");
    assert.deepEqual(await getApiKey(deps, apiKeyId), before);
    assert.deepEqual(deps.events.events, []);
  });

  it("holding all but one of the key's scopes is not enough, for an update or a delete", async () => {
    const { deps, apiKeyId, before } = await setup(["user:read", "pki:read"]);
    const callerScope = ["user:read_write", "pkiadmin:read_write"];
    assert.equal(await codeOf(updateApiKey(deps, { apiKeyId, name: "x", callerScope })), "auth.insufficient_scope");
    assert.equal(await codeOf(deleteApiKey(deps, { apiKeyId, callerScope })), "auth.insufficient_scope");
    assert.deepEqual(await getApiKey(deps, apiKeyId), before);
  });

  it("a caller holding every scope of the key manages it, with read_write or the scopes one by one", async () => {
    const { deps, apiKeyId } = await setup(["user:read_write", "pki:read"]);
    const renamed = await updateApiKey(deps, {
      apiKeyId,
      name: "mine",
      enabled: false,
      callerScope: ["user:read", "user:write", "pki:read"],
    });
    assert.equal(renamed.name, "mine");
    assert.equal(renamed.enabled, false);
    await updateApiKey(deps, {
      apiKeyId,
      enabled: true,
      maxScope: ["pki:read"],
      callerScope: ["user:read_write", "pki:read"],
    });
    await deleteApiKey(deps, { apiKeyId, callerScope: ["pki:read"] });
    assert.equal(await codeOf(getApiKey(deps, apiKeyId)), "apikey.not_found");
  });

  it("an unknown key is still 71 whatever the caller holds", async () => {
    const deps = makeDeps();
    const apiKeyId = "0123456789abcdef01234567";
    assert.equal(await codeOf(updateApiKey(deps, { apiKeyId, name: "x", callerScope: [] })), "apikey.not_found");
    assert.equal(await codeOf(deleteApiKey(deps, { apiKeyId, callerScope: [] })), "apikey.not_found");
  });

  it("a widening of the key between the check and the write does not let an update through", async () => {
    const store = new WideningStore();
    const { deps, apiKeyId } = await setup(["user:read"], store);
    store.widen = { id: apiKeyId, maxScope: ["user:read", "pkiadmin:read", "pkiadmin:write"] };
    assert.equal(
      await codeOf(updateApiKey(deps, { apiKeyId, enabled: false, callerScope: USER_ADMIN })),
      "auth.insufficient_scope",
    );
    const after = await getApiKey(deps, apiKeyId);
    assert.equal(after.enabled, true);
    assert.deepEqual(after.maxScope, ["user:read", "pkiadmin:read", "pkiadmin:write"]);
    assert.deepEqual(deps.events.events, []);
  });

  it("a widening of the key between the check and the write does not let a delete through", async () => {
    const store = new WideningStore();
    const { deps, apiKeyId } = await setup(["user:read"], store);
    store.widen = { id: apiKeyId, maxScope: ["user:read", "pkiadmin:write"] };
    assert.equal(await codeOf(deleteApiKey(deps, { apiKeyId, callerScope: USER_ADMIN })), "auth.insufficient_scope");
    assert.deepEqual((await getApiKey(deps, apiKeyId)).maxScope, ["user:read", "pkiadmin:write"]);
    assert.deepEqual(deps.events.events, []);
  });

  it("a concurrent change that keeps the key manageable does not fail the write", async () => {
    const store = new WideningStore();
    const { deps, apiKeyId } = await setup(["user:read"], store);
    store.widen = { id: apiKeyId, maxScope: ["user:read", "user:write"] };
    const view = await updateApiKey(deps, { apiKeyId, name: "kept", callerScope: USER_ADMIN });
    assert.equal(view.name, "kept");
    assert.deepEqual(view.maxScope, ["user:read", "user:write"]);
  });

  it("a scope the rule cannot read counts as not held", () => {
    const key = { maxScope: ["user:read", "billing:read"] } as unknown as ApiKeyRecord;
    assert.equal(mayManage(ALL, key), false);
    assert.equal(mayManage(ALL, { maxScope: ["user:read"] } as unknown as ApiKeyRecord), true);
    assert.equal(mayManage([], { maxScope: [] } as unknown as ApiKeyRecord), true);
  });
});
