import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALL_SCOPES } from "@pkiserver/kit/core";
import { addSecretKey, codeOf, errorData, makeDeps } from "../testing/fixtures";
import { updateApiKey } from "./update-api-key";

const ALL = [...ALL_SCOPES];

async function setup() {
  const deps = makeDeps();
  const apiKeyId = await addSecretKey(deps, { name: "old", maxScope: ["user:read_write"] });
  deps.events.events.length = 0;
  return { deps, apiKeyId };
}

describe("updateApiKey", () => {
  it("changes the given fields only and announces the previous values", async () => {
    const { deps, apiKeyId } = await setup();
    const view = await updateApiKey(deps, { apiKeyId, enabled: false, maxScope: ["user:read"], callerScope: ALL });
    assert.equal(view.name, "old");
    assert.equal(view.enabled, false);
    assert.deepEqual(view.maxScope, ["user:read"]);
    const ev = deps.events.events[0];
    assert.ok(ev?.type === "updated");
    assert.equal(ev.before.enabled, true);
    assert.deepEqual(ev.before.maxScope, ["user:read", "user:write"]);
    assert.equal(ev.after.enabled, false);
    assert.deepEqual(ev.after.maxScope, ["user:read"]);
  });

  it("sets, replaces and clears a key's own rate limits, announcing them, and refuses values out of range", async () => {
    const { deps, apiKeyId } = await setup();
    const set = await updateApiKey(deps, { apiKeyId, rateLimits: { user: 10, pki: 1_000_000 }, callerScope: ALL });
    assert.deepEqual(set.rateLimits, { user: 10, pki: 1_000_000 });
    const ev = deps.events.events[0];
    assert.ok(ev?.type === "updated");
    assert.deepEqual(ev.after.rateLimits, { user: 10, pki: 1_000_000 });
    const replaced = await updateApiKey(deps, { apiKeyId, rateLimits: { audit: 3 }, callerScope: ALL });
    assert.deepEqual(replaced.rateLimits, { audit: 3 });
    // Another change leaves them alone; an empty object clears them.
    assert.deepEqual((await updateApiKey(deps, { apiKeyId, name: "n", callerScope: ALL })).rateLimits, { audit: 3 });
    assert.equal((await updateApiKey(deps, { apiKeyId, rateLimits: {}, callerScope: ALL })).rateLimits, undefined);
    for (const bad of [{ user: 0 }, { user: 1_000_001 }, { user: 1.5 }, { other: 5 }]) {
      assert.equal(
        await codeOf(updateApiKey(deps, { apiKeyId, rateLimits: bad, callerScope: ALL })),
        "rpc.invalid_params",
      );
    }
  });

  it("tells an absent maxScope from an empty one", async () => {
    const { deps, apiKeyId } = await setup();
    const renamed = await updateApiKey(deps, { apiKeyId, name: "new", callerScope: ["user:read_write"] });
    assert.equal(renamed.name, "new");
    assert.deepEqual(renamed.maxScope, ["user:read", "user:write"]);
    const emptied = await updateApiKey(deps, { apiKeyId, maxScope: [], callerScope: ["user:read_write"] });
    assert.deepEqual(emptied.maxScope, []);
  });

  it("answers 71 for an unknown key", async () => {
    const { deps } = await setup();
    assert.equal(
      await codeOf(updateApiKey(deps, { apiKeyId: "0123456789abcdef01234567", name: "x", callerScope: ALL })),
      "apikey.not_found",
    );
    assert.equal(
      await codeOf(updateApiKey(deps, { apiKeyId: "0123456789abcdef01234567", callerScope: ALL })),
      "apikey.not_found",
    );
    assert.equal(deps.events.events.length, 0);
  });

  it("refuses with 73 a maxScope beyond the caller's scope", async () => {
    const { deps, apiKeyId } = await setup();
    assert.equal(
      await codeOf(updateApiKey(deps, { apiKeyId, maxScope: ["pkiadmin:write"], callerScope: ["user:read_write"] })),
      "auth.insufficient_scope",
    );
  });

  it("rejects modifiers in maxScope and an over-long name with -32602", async () => {
    const { deps, apiKeyId } = await setup();
    assert.match(
      String(await errorData(updateApiKey(deps, { apiKeyId, maxScope: ["session:x"], callerScope: ALL }))),
      /^maxScope -> 0 -> /,
    );
    assert.match(
      String(await errorData(updateApiKey(deps, { apiKeyId, name: "n".repeat(129), callerScope: ALL }))),
      /^name -> /,
    );
  });
});
