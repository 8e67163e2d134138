import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, newRef, testDeps } from "../testing/fixtures";
import { deleteKey } from "./delete-key";
import { getCurrentKey } from "./get-current-key";
import { setKey } from "./set-key";

describe("getCurrentKey", () => {
  it("answers 79 for an empty history", async () => {
    const { deps } = testDeps();
    await assert.rejects(getCurrentKey(deps, { ref: newRef() }), hasCode("pki.no_key"));
  });

  it("returns the newest key, and after a delete the deletion record without a key", async () => {
    const { deps, clock } = testDeps();
    const ref = newRef();
    await setKey(deps, { ref, userPubKey: randomPubKey() });
    clock.t += 1;
    const k2 = randomPubKey();
    await setKey(deps, { ref, userPubKey: k2 });
    assert.equal((await getCurrentKey(deps, { ref })).userPubKey, k2);
    clock.t += 1;
    const deletion = await deleteKey(deps, { ref });
    const current = await getCurrentKey(deps, { ref });
    assert.deepEqual(current, deletion);
    assert.equal("userPubKey" in current, false);
  });
});
