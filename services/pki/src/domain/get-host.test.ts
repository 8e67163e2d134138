import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, invalidField, testDeps } from "../testing/fixtures";
import { addHostUrl } from "./add-host-url";
import { getHost } from "./get-host";
import { listHosts } from "./list-hosts";
import { setHost } from "./set-host";

describe("getHost and listHosts", () => {
  it("finds a host by instanceId, by URL, or by both when both match", async () => {
    const { deps } = testDeps();
    const id = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "a.example" });
    await addHostUrl(deps, { instanceId: id, hostUrl: "b.example" });
    const expected = { instanceId: id, hostPubKey: id, addresses: ["a.example", "b.example"] };
    assert.deepEqual(await getHost(deps, { instanceId: id }), expected);
    assert.deepEqual(await getHost(deps, { hostUrl: "b.example" }), expected);
    assert.deepEqual(await getHost(deps, { instanceId: id, hostUrl: "a.example" }), expected);
  });

  it("answers 87 when nothing matches, including when the two filters name different hosts", async () => {
    const { deps } = testDeps();
    const a = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "a.example" });
    await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "b.example" });
    const notFound = hasCode("pki.host_not_found_by_filter");
    await assert.rejects(getHost(deps, { instanceId: randomPubKey() }), notFound);
    await assert.rejects(getHost(deps, { hostUrl: "c.example" }), notFound);
    await assert.rejects(getHost(deps, { instanceId: a, hostUrl: "b.example" }), notFound);
  });

  it("refuses a call with no filter, or an invalid instanceId", async () => {
    const { deps } = testDeps();
    await assert.rejects(getHost(deps, {}), hasCode("rpc.invalid_params"));
    await assert.rejects(getHost(deps, { instanceId: "bad" }), invalidField("instanceId"));
  });

  it("lists every host with its addresses", async () => {
    const { deps } = testDeps();
    assert.deepEqual(await listHosts(deps), []);
    const a = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "a.example" });
    const b = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "b.example" });
    const listed = await listHosts(deps);
    assert.deepEqual(
      [...listed].sort((x, y) => x.instanceId.localeCompare(y.instanceId)),
      [
        { instanceId: a, hostPubKey: a, addresses: ["a.example"] },
        { instanceId: b, hostPubKey: b, addresses: ["b.example"] },
      ].sort((x, y) => x.instanceId.localeCompare(y.instanceId)),
    );
  });
});
