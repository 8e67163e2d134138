import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, invalidField, newRef, testDeps } from "../testing/fixtures";
import { deleteKey } from "./delete-key";
import { getKeyAt } from "./get-key-at";
import { setKey } from "./set-key";

describe("getKeyAt", () => {
  it("includes a record from its own createDate on, and answers 80 one millisecond before", async () => {
    const { deps, clock } = testDeps(1_000);
    const ref = newRef();
    const key = randomPubKey();
    const record = await setKey(deps, { ref, userPubKey: key });
    assert.equal(record.createDate, 1_000);
    assert.deepEqual(await getKeyAt(deps, { ref, date: 1_000 }), record);
    await assert.rejects(getKeyAt(deps, { ref, date: 999 }), hasCode("pki.no_key_at_time"));
    clock.t = 2_000;
    const k2 = randomPubKey();
    await setKey(deps, { ref, userPubKey: k2 });
    assert.equal((await getKeyAt(deps, { ref, date: 1_999 })).userPubKey, key);
    assert.equal((await getKeyAt(deps, { ref, date: 2_000 })).userPubKey, k2);
  });

  it("returns the deletion record while a deletion is in force", async () => {
    const { deps, clock } = testDeps(1_000);
    const ref = newRef();
    await setKey(deps, { ref, userPubKey: randomPubKey() });
    clock.t = 1_500;
    await deleteKey(deps, { ref });
    const at = await getKeyAt(deps, { ref, date: 1_600 });
    assert.equal(at.seq, 2);
    assert.equal(at.userPubKey, undefined);
  });

  it("answers 80 for an empty history and refuses a negative or fractional date", async () => {
    const { deps } = testDeps();
    const ref = newRef();
    await assert.rejects(getKeyAt(deps, { ref, date: Date.now() }), hasCode("pki.no_key_at_time"));
    await assert.rejects(getKeyAt(deps, { ref, date: -1 }), invalidField("date"));
    await assert.rejects(getKeyAt(deps, { ref, date: 1.5 }), invalidField("date"));
  });
});
