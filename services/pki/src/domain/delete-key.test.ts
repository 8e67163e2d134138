import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, newRef, testDeps } from "../testing/fixtures";
import { deleteKey } from "./delete-key";
import { getKeyHistory } from "./get-key-history";
import { setKey } from "./set-key";

describe("deleteKey", () => {
  it("appends a record without a key and reports it", async () => {
    const { deps, clock, events } = testDeps();
    const ref = newRef();
    await setKey(deps, { ref, userPubKey: randomPubKey() });
    clock.t += 5;
    const record = await deleteKey(deps, { ref });
    assert.deepEqual(record, { ...ref, seq: 2, createDate: clock.t });
    assert.deepEqual(events.at(-1), { type: "userKeyDeleted", record });
  });

  it("answers 79 when no key was ever set", async () => {
    const { deps } = testDeps();
    await assert.rejects(deleteKey(deps, { ref: newRef() }), hasCode("pki.no_key"));
  });

  it("answers 79 when the key is already deleted, and appends nothing", async () => {
    const { deps, events } = testDeps();
    const ref = newRef();
    await setKey(deps, { ref, userPubKey: randomPubKey() });
    await deleteKey(deps, { ref });
    await assert.rejects(deleteKey(deps, { ref }), hasCode("pki.no_key"));
    assert.equal((await getKeyHistory(deps, { ref })).length, 2);
    assert.equal(events.length, 2);
  });
});
