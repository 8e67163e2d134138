import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { testDeps } from "../testing/fixtures";
import { deleteHost } from "./delete-host";
import { setHost } from "./set-host";
import { verifyHostById } from "./verify-host-by-id";
import { verifyHostByPub } from "./verify-host-by-pub";

describe("verifyHostById and verifyHostByPub", () => {
  it("are true exactly when that host exists and has that URL", async () => {
    const { deps } = testDeps();
    const a = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "a.example" });
    const b = await setHost(deps, { hostPubKey: randomPubKey(), hostUrl: "b.example" });
    for (const verify of [
      (id: string, url: string) => verifyHostById(deps, { instanceId: id, hostUrl: url }),
      (id: string, url: string) => verifyHostByPub(deps, { hostPubKey: id, hostUrl: url }),
    ]) {
      assert.equal(await verify(a, "a.example"), true);
      assert.equal(await verify(a, "b.example"), false);
      assert.equal(await verify(b, "a.example"), false);
      assert.equal(await verify(a, "zzz.example"), false);
      assert.equal(await verify(randomPubKey(), "a.example"), false);
    }
    await deleteHost(deps, { instanceId: a });
    assert.equal(await verifyHostById(deps, { instanceId: a, hostUrl: "a.example" }), false);
    assert.equal(await verifyHostByPub(deps, { hostPubKey: a, hostUrl: "a.example" }), false);
  });
});
