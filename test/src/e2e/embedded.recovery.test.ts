import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { bearer, errCode, ok } from "../support/client";
import { startForm, type TestSystem } from "../support/forms";
import { tokenFor } from "./auth.suite";

/** API.md section 6: when every key has been deleted, createFirstApiKey works again. */
describe("embedded form: first-key recovery", () => {
  let sys: TestSystem;
  before(async () => {
    sys = await startForm("embedded");
  });
  after(() => sys.stop());

  it("creates a first key again once every key is deleted, and the old key's tokens stay refused", async () => {
    const first = await ok<{ apiKeyId: string; apiKeySecret: string }>(sys.url, "auth/createFirstApiKey", {
      initializationToken: sys.initToken,
      name: "first",
    });
    const t = await tokenFor(sys.url, first.apiKeyId, first.apiKeySecret);
    assert.equal(
      (await errCode(sys.url, "auth/createFirstApiKey", { initializationToken: sys.initToken, name: "x" })).code,
      96,
    );
    // A key may delete itself; then no key exists.
    assert.equal(await ok(sys.url, "user/deleteApiKey", { apiKeyId: first.apiKeyId }, bearer(t.accessToken)), "OK");
    assert.equal((await errCode(sys.url, "user/listApiKeys", {}, bearer(t.accessToken))).code, 75);

    const again = await ok<{ apiKeyId: string; apiKeySecret: string }>(sys.url, "auth/createFirstApiKey", {
      initializationToken: sys.initToken,
      name: "recovered",
    });
    assert.notEqual(again.apiKeyId, first.apiKeyId);
    const t2 = await tokenFor(sys.url, again.apiKeyId, again.apiKeySecret);
    assert.deepEqual(
      [...t2.scope].sort(),
      [
        "audit:read",
        "audit:write",
        "pki:read",
        "pki:write",
        "pkiadmin:read",
        "pkiadmin:write",
        "user:read",
        "user:write",
      ],
      "the recovered key has every scope",
    );
    const list = await ok<{ list: { apiKeyId: string }[] }>(sys.url, "user/listApiKeys", {}, bearer(t2.accessToken));
    assert.deepEqual(
      list.list.map((k) => k.apiKeyId),
      [again.apiKeyId],
    );
    // The initialization token is still required.
    assert.equal(
      (await errCode(sys.url, "auth/createFirstApiKey", { initializationToken: "nope", name: "x" })).code,
      97,
    );
  });
});
