import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, newRef, testDeps } from "../testing/fixtures";
import { deleteKey } from "./delete-key";
import { setKey } from "./set-key";
import { verifyKey } from "./verify-key";

describe("verifyKey", () => {
  it("is true while the key is in force, false after a replacement, and true again at past dates", async () => {
    const { deps, clock } = testDeps(10_000);
    const ref = newRef();
    const [k1, k2] = [randomPubKey(), randomPubKey()];
    await setKey(deps, { ref, userPubKey: k1 });
    assert.equal(await verifyKey(deps, { ref, userPubKey: k1, date: 10_000 }), true);
    assert.equal(await verifyKey(deps, { ref, userPubKey: k2, date: 10_000 }), false);
    clock.t = 20_000;
    await setKey(deps, { ref, userPubKey: k2 });
    assert.equal(await verifyKey(deps, { ref, userPubKey: k1, date: 20_000 }), false);
    assert.equal(await verifyKey(deps, { ref, userPubKey: k2, date: 20_000 }), true);
    assert.equal(await verifyKey(deps, { ref, userPubKey: k1, date: 19_999 }), true);
  });

  it("is false for the deleted key once the deletion is in force", async () => {
    const { deps, clock } = testDeps(10_000);
    const ref = newRef();
    const key = randomPubKey();
    await setKey(deps, { ref, userPubKey: key });
    clock.t = 20_000;
    await deleteKey(deps, { ref });
    assert.equal(await verifyKey(deps, { ref, userPubKey: key, date: 20_000 }), false);
    assert.equal(await verifyKey(deps, { ref, userPubKey: key, date: 15_000 }), true);
  });

  it("answers 80 when no record is at or before the date", async () => {
    const { deps } = testDeps(10_000);
    const ref = newRef();
    const key = randomPubKey();
    await assert.rejects(verifyKey(deps, { ref, userPubKey: key, date: 10_000 }), hasCode("pki.no_key_at_time"));
    await setKey(deps, { ref, userPubKey: key });
    await assert.rejects(verifyKey(deps, { ref, userPubKey: key, date: 9_999 }), hasCode("pki.no_key_at_time"));
  });
});
