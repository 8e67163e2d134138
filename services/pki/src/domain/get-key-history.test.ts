import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { newRef, testDeps } from "../testing/fixtures";
import { deleteKey } from "./delete-key";
import { getKeyHistory } from "./get-key-history";
import { setKey } from "./set-key";

describe("getKeyHistory", () => {
  it("is empty for an unknown history", async () => {
    const { deps } = testDeps();
    assert.deepEqual(await getKeyHistory(deps, { ref: newRef() }), []);
  });

  it("lists every record newest first, deletions included", async () => {
    const { deps, clock } = testDeps();
    const ref = newRef();
    const a = await setKey(deps, { ref, userPubKey: randomPubKey(), customData: '{"n":1}' });
    clock.t += 3;
    const b = await deleteKey(deps, { ref });
    clock.t += 3;
    const c = await setKey(deps, { ref, userPubKey: randomPubKey() });
    assert.deepEqual(await getKeyHistory(deps, { ref }), [c, b, a]);
  });
});
