import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, invalidField, testDeps } from "../testing/fixtures";
import { setHost } from "./set-host";

describe("setHost", () => {
  it("registers the host under its key, returns the key as instanceId, and reports it", async () => {
    const { deps, clock, events } = testDeps();
    const key = randomPubKey();
    assert.equal(await setHost(deps, { hostPubKey: key, hostUrl: "localhost:3000" }), key);
    assert.deepEqual(await deps.hosts.get(key), { instanceId: key, hostPubKey: key, addresses: ["localhost:3000"] });
    assert.deepEqual(events, [
      {
        type: "hostRegistered",
        host: { instanceId: key, hostPubKey: key, addresses: ["localhost:3000"] },
        at: clock.t,
      },
    ]);
  });

  it("refuses a key already registered with 89", async () => {
    const { deps, events } = testDeps();
    const key = randomPubKey();
    await setHost(deps, { hostPubKey: key, hostUrl: "localhost:3000" });
    await assert.rejects(
      setHost(deps, { hostPubKey: key, hostUrl: "localhost:3001" }),
      hasCode("pki.host_already_exists"),
    );
    assert.equal(events.length, 1);
  });

  it("refuses a URL any host uses with 88", async () => {
    const { deps } = testDeps();
    await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "localhost:3000" });
    await assert.rejects(
      setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "localhost:3000" }),
      hasCode("pki.host_url_reserved"),
    );
  });

  it("refuses an invalid key or a URL outside 3..2048 characters", async () => {
    const { deps } = testDeps();
    await assert.rejects(setHost(deps, { hostPubKey: "abc", hostUrl: "localhost:3000" }), invalidField("hostPubKey"));
    await assert.rejects(setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "ab" }), invalidField("hostUrl"));
    await assert.rejects(
      setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "h".repeat(2049) }),
      invalidField("hostUrl"),
    );
    assert.deepEqual(await deps.hosts.list(), []);
  });
});
