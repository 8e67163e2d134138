import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, testDeps } from "../testing/fixtures";
import { removeHostUrl } from "./remove-host-url";
import { setHost } from "./set-host";
import { verifyHostById } from "./verify-host-by-id";

describe("removeHostUrl", () => {
  it("removes the URL and reports the changed host", async () => {
    const { deps, events } = testDeps();
    const id = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "a.example" });
    const host = await removeHostUrl(deps, { instanceId: id, hostUrl: "a.example" });
    assert.deepEqual(host.addresses, []);
    assert.equal(await verifyHostById(deps, { instanceId: id, hostUrl: "a.example" }), false);
    assert.deepEqual(events.at(-1), { type: "hostChanged", host, at: deps.clock.now() });
  });

  it("answers 82 for an unknown host and 84 for a URL the host does not have", async () => {
    const { deps } = testDeps();
    const a = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "a.example" });
    await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "b.example" });
    await assert.rejects(
      removeHostUrl(deps, { instanceId: randomPubKey(), hostUrl: "a.example" }),
      hasCode("pki.host_not_found"),
    );
    await assert.rejects(
      removeHostUrl(deps, { instanceId: a, hostUrl: "b.example" }),
      hasCode("pki.host_url_not_found"),
    );
  });
});
