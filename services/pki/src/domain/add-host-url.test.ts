import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, invalidField, testDeps } from "../testing/fixtures";
import { addHostUrl } from "./add-host-url";
import { setHost } from "./set-host";

describe("addHostUrl", () => {
  it("adds the URL and reports the changed host", async () => {
    const { deps, events } = testDeps();
    const id = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "a.example" });
    const host = await addHostUrl(deps, { instanceId: id, hostUrl: "b.example" });
    assert.deepEqual(host.addresses, ["a.example", "b.example"]);
    assert.deepEqual(events.at(-1), { type: "hostChanged", host, at: deps.clock.now() });
  });

  it("answers 82 for an unknown host, 83 for a URL it has, 88 for a URL of another host", async () => {
    const { deps, events } = testDeps();
    const a = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "a.example" });
    await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "b.example" });
    await assert.rejects(
      addHostUrl(deps, { instanceId: randomPubKey(), hostUrl: "c.example" }),
      hasCode("pki.host_not_found"),
    );
    await assert.rejects(addHostUrl(deps, { instanceId: a, hostUrl: "a.example" }), hasCode("pki.host_url_exists"));
    await assert.rejects(addHostUrl(deps, { instanceId: a, hostUrl: "b.example" }), hasCode("pki.host_url_reserved"));
    assert.equal(events.filter((e) => e.type === "hostChanged").length, 0);
  });

  it("refuses an invalid instanceId", async () => {
    const { deps } = testDeps();
    await assert.rejects(addHostUrl(deps, { instanceId: "nope", hostUrl: "a.example" }), invalidField("instanceId"));
  });
});
