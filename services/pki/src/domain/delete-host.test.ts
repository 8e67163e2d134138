import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, testDeps } from "../testing/fixtures";
import { deleteHost } from "./delete-host";
import { getKeyHistory } from "./get-key-history";
import { setHost } from "./set-host";
import { setKey } from "./set-key";

describe("deleteHost", () => {
  it("removes the host, reports it as it was, and keeps its users' key histories", async () => {
    const { deps, events } = testDeps();
    const id = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "a.example" });
    const ref = { userId: "user1", instanceId: id, contextId: "ctx1" };
    const record = await setKey(deps, { ref, userPubKey: randomPubKey() });
    await deleteHost(deps, { instanceId: id });
    assert.equal(await deps.hosts.get(id), undefined);
    assert.deepEqual(await getKeyHistory(deps, { ref }), [record]);
    assert.deepEqual(events.at(-1), {
      type: "hostDeleted",
      host: { instanceId: id, hostPubKey: id, addresses: ["a.example"] },
      at: deps.clock.now(),
    });
  });

  it("answers 82 for an unknown host", async () => {
    const { deps } = testDeps();
    await assert.rejects(deleteHost(deps, { instanceId: randomPubKey() }), hasCode("pki.host_not_found"));
  });
});
