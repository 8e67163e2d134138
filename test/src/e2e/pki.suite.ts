import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import type { KeyProofAnswer } from "@pkiserver/log";
import { bearer, call, errCode, ok } from "../support/client";
import { randomPubKey } from "../support/keys";
import { type Ctx, type TokenResult, tokenFor } from "./auth.suite";

/** A key record as the pki methods answer it (API.md section 7), as the log's proofs carry it. */
type KeyRecord = KeyProofAnswer["record"];
interface Host {
  instanceId: string;
  hostPubKey: string;
  addresses: string[];
}

const uniq = (p: string) => `${p}-${randomBytes(5).toString("hex")}`;

/** API.md section 6, pkiAdmin/ and pki/. */
export function pkiSuite(ctx: () => Ctx): void {
  const url = () => ctx().sys.url;
  let h: Record<string, string>;

  before(async () => {
    const secret = randomBytes(24).toString("base64url");
    const { apiKeyId } = await ok<{ apiKeyId: string }>(
      url(),
      "user/addApiKey",
      { type: "secret", name: "pki-admin", clientSecret: secret, maxScope: ["pki:read", "pkiadmin:read_write"] },
      bearer(ctx().admin.accessToken),
    );
    const t: TokenResult = await tokenFor(url(), apiKeyId, secret);
    h = bearer(t.accessToken);
  });

  const rpc = <T>(method: string, params: unknown) => ok<T>(url(), method, params, h);
  const fail = async (method: string, params: unknown) => (await errCode(url(), method, params, h)).code;

  describe("hosts", () => {
    it("registers a host whose instanceId is its public key, and finds it every way", async () => {
      const pub = randomPubKey();
      const hostUrl = uniq("https://bridge.example");
      assert.equal(await rpc("pkiAdmin/setHost", { hostPubKey: pub, hostUrl }), pub);
      const expected: Host = { instanceId: pub, hostPubKey: pub, addresses: [hostUrl] };
      const hosts = await rpc<Host[]>("pkiAdmin/listHosts", {});
      assert.deepEqual(
        hosts.find((x) => x.instanceId === pub),
        expected,
      );
      assert.deepEqual(await rpc("pki/getHost", { instanceId: pub }), expected);
      assert.deepEqual(await rpc("pki/getHost", { hostUrl }), expected);
      assert.deepEqual(await rpc("pki/getHost", { instanceId: pub, hostUrl }), expected);
      assert.equal(
        await fail("pki/getHost", { instanceId: pub, hostUrl: "other.example" }),
        87,
        "both filters must match",
      );
      assert.equal(await fail("pki/getHost", { instanceId: randomPubKey() }), 87);
      assert.equal(await fail("pki/getHost", {}), -32602);
      assert.equal(await rpc("pki/verifyHostById", { instanceId: pub, hostUrl }), true);
      assert.equal(await rpc("pki/verifyHostById", { instanceId: pub, hostUrl: "other.example" }), false);
      assert.equal(await rpc("pki/verifyHostByPub", { hostPubKey: pub, hostUrl }), true);
      assert.equal(await rpc("pki/verifyHostByPub", { hostPubKey: randomPubKey(), hostUrl }), false);
    });

    it("refuses a registered key (89) and a URL used by any host (88)", async () => {
      const pub = randomPubKey();
      const hostUrl = uniq("bridge-a");
      await rpc("pkiAdmin/setHost", { hostPubKey: pub, hostUrl });
      assert.equal(await fail("pkiAdmin/setHost", { hostPubKey: pub, hostUrl: uniq("bridge-b") }), 89);
      assert.equal(await fail("pkiAdmin/setHost", { hostPubKey: randomPubKey(), hostUrl }), 88);
    });

    it("adds and removes URLs with 82/83/84/88 as documented", async () => {
      const a = randomPubKey();
      const b = randomPubKey();
      const urlA = uniq("a.example");
      const urlB = uniq("b.example");
      await rpc("pkiAdmin/setHost", { hostPubKey: a, hostUrl: urlA });
      await rpc("pkiAdmin/setHost", { hostPubKey: b, hostUrl: urlB });
      const extra = uniq("a2.example");
      assert.equal(await rpc("pkiAdmin/addHostUrl", { instanceId: a, hostUrl: extra }), "OK");
      assert.deepEqual((await rpc<Host>("pki/getHost", { instanceId: a })).addresses.sort(), [urlA, extra].sort());
      assert.equal(await fail("pkiAdmin/addHostUrl", { instanceId: randomPubKey(), hostUrl: uniq("x") }), 82);
      assert.equal(await fail("pkiAdmin/addHostUrl", { instanceId: a, hostUrl: extra }), 83);
      assert.equal(await fail("pkiAdmin/addHostUrl", { instanceId: a, hostUrl: urlB }), 88);
      assert.equal(await fail("pkiAdmin/removeHostUrl", { instanceId: randomPubKey(), hostUrl: extra }), 82);
      assert.equal(await fail("pkiAdmin/removeHostUrl", { instanceId: a, hostUrl: urlB }), 84);
      assert.equal(await rpc("pkiAdmin/removeHostUrl", { instanceId: a, hostUrl: extra }), "OK");
      assert.equal(await rpc("pki/verifyHostById", { instanceId: a, hostUrl: extra }), false);
      // A removed URL is free for another host.
      assert.equal(await rpc("pkiAdmin/addHostUrl", { instanceId: b, hostUrl: extra }), "OK");
    });

    it("deletes a host (82 when unknown) and keeps its user-key history", async () => {
      const pub = randomPubKey();
      const hostUrl = uniq("gone.example");
      await rpc("pkiAdmin/setHost", { hostPubKey: pub, hostUrl });
      const ref = { userId: "user-kept", instanceId: pub, contextId: "ctx-kept" };
      await rpc("pkiAdmin/setKey", { ...ref, userPubKey: randomPubKey() });
      assert.equal(await rpc("pkiAdmin/deleteHost", { instanceId: pub }), "OK");
      assert.equal(await fail("pkiAdmin/deleteHost", { instanceId: pub }), 82);
      assert.equal(await fail("pki/getHost", { instanceId: pub }), 87);
      assert.equal((await rpc<KeyRecord[]>("pki/getKeyHistory", ref)).length, 1);
      // Its URL is free again.
      assert.equal(
        await rpc("pkiAdmin/setHost", { hostPubKey: randomPubKey(), hostUrl }),
        await rpc<Host>("pki/getHost", { hostUrl }).then((x) => x.instanceId),
      );
    });

    it("lets exactly one of concurrent setHost calls racing for one URL win", async () => {
      const hostUrl = uniq("contested.example");
      const replies = await Promise.all(
        Array.from({ length: 8 }, () => call(url(), "pkiAdmin/setHost", { hostPubKey: randomPubKey(), hostUrl }, h)),
      );
      const winners = replies.filter((r) => r.result);
      assert.equal(winners.length, 1, JSON.stringify(replies));
      for (const r of replies.filter((x) => x.error)) assert.equal(r.error?.code, 88);
      const host = await rpc<Host>("pki/getHost", { hostUrl });
      assert.equal(host.instanceId, winners[0]?.result);
    });
  });

  describe("user keys", () => {
    const ref = () => ({ userId: uniq("user"), instanceId: randomPubKey(), contextId: uniq("ctx") });

    it("reports empty histories: getCurrentKey 79, getKeyAt 80, getKeyHistory [], verifyKey 80, deleteKey 79", async () => {
      const r = ref();
      assert.equal(await fail("pki/getCurrentKey", r), 79);
      assert.equal(await fail("pki/getKeyAt", { ...r, date: Date.now() }), 80);
      assert.deepEqual(await rpc("pki/getKeyHistory", r), []);
      assert.equal(await fail("pki/verifyKey", { ...r, userPubKey: randomPubKey(), date: Date.now() }), 80);
      assert.equal(await fail("pkiAdmin/deleteKey", r), 79);
    });

    it("answers getKeyAt inclusively at a record's createDate and 80 just before it", async () => {
      const r = ref();
      const k1 = randomPubKey();
      assert.equal(await rpc("pkiAdmin/setKey", { ...r, userPubKey: k1 }), "OK");
      const current = await rpc<KeyRecord>("pki/getCurrentKey", r);
      assert.deepEqual(current, { ...r, userPubKey: k1, createDate: current.createDate });
      const at = await rpc<KeyRecord>("pki/getKeyAt", { ...r, date: current.createDate });
      assert.equal(at.userPubKey, k1);
      assert.equal(await fail("pki/getKeyAt", { ...r, date: current.createDate - 1 }), 80);
      assert.equal(await rpc("pki/verifyKey", { ...r, userPubKey: k1, date: current.createDate }), true);
      assert.equal(await fail("pki/verifyKey", { ...r, userPubKey: k1, date: current.createDate - 1 }), 80);
    });

    it("refuses setting the current key again (81), keeps history, and verifies by time", async () => {
      const r = ref();
      const k1 = randomPubKey();
      const k2 = randomPubKey();
      await rpc("pkiAdmin/setKey", { ...r, userPubKey: k1 });
      assert.equal(await fail("pkiAdmin/setKey", { ...r, userPubKey: k1 }), 81);
      await rpc("pkiAdmin/setKey", { ...r, userPubKey: k2 });
      const history = await rpc<KeyRecord[]>("pki/getKeyHistory", r);
      assert.deepEqual(
        history.map((x) => x.userPubKey),
        [k2, k1],
        "newest first",
      );
      const [second, firstRec] = history as [KeyRecord, KeyRecord];
      assert.ok(second.createDate > firstRec.createDate);
      assert.equal(await rpc("pki/verifyKey", { ...r, userPubKey: k1, date: firstRec.createDate }), true);
      assert.equal(
        await rpc("pki/verifyKey", { ...r, userPubKey: k1, date: second.createDate }),
        false,
        "after replacement",
      );
      assert.equal(await rpc("pki/verifyKey", { ...r, userPubKey: k2, date: second.createDate }), true);
      assert.equal((await rpc<KeyRecord>("pki/getKeyAt", { ...r, date: second.createDate - 1 })).userPubKey, k1);
    });

    it("records deletion as a keyless record, verifies false after it, and lets a key come back", async () => {
      const r = ref();
      const k1 = randomPubKey();
      await rpc("pkiAdmin/setKey", { ...r, userPubKey: k1 });
      assert.equal(await rpc("pkiAdmin/deleteKey", r), "OK");
      const current = await rpc<KeyRecord>("pki/getCurrentKey", r);
      assert.equal(current.userPubKey, undefined);
      assert.equal(current.userId, r.userId);
      assert.equal(await fail("pkiAdmin/deleteKey", r), 79, "already deleted");
      assert.equal(await rpc("pki/verifyKey", { ...r, userPubKey: k1, date: current.createDate }), false);
      assert.equal(await rpc("pkiAdmin/setKey", { ...r, userPubKey: k1 }), "OK", "an earlier key may come back");
      const history = await rpc<KeyRecord[]>("pki/getKeyHistory", r);
      assert.deepEqual(
        history.map((x) => x.userPubKey ?? null),
        [k1, null, k1],
      );
      assert.equal(await rpc("pki/verifyKey", { ...r, userPubKey: k1, date: Date.now() + 1000 }), true);
    });

    it("stores customData with the record and refuses more than 4 KiB", async () => {
      const r = ref();
      const customData = { role: "admin", tags: ["a", "b"], n: 3, nested: { ok: true } };
      await rpc("pkiAdmin/setKey", { ...r, userPubKey: randomPubKey(), customData });
      assert.deepEqual((await rpc<KeyRecord>("pki/getCurrentKey", r)).customData, customData);
      assert.deepEqual((await rpc<KeyRecord[]>("pki/getKeyHistory", r))[0]?.customData, customData);
      const big = { blob: "x".repeat(4097) };
      assert.equal(await fail("pkiAdmin/setKey", { ...r, userPubKey: randomPubKey(), customData: big }), -32602);
    });

    it("returns customData of every JSON kind exactly as sent, key order and unicode included", async () => {
      const values: unknown[] = [
        null,
        0,
        -12.5e-7,
        "plain string",
        'zażółć 漢字 🔑 \u0000 "quoted" \\ line\nbreak',
        [],
        [1, "two", null, [false], { three: 3 }],
        {},
        { z: 1, a: 2, m: { y: [], b: {} }, $where: "x", "dotted.key": true, "10": "numeric", "": "empty" },
      ];
      for (const customData of values) {
        const r = ref();
        await rpc("pkiAdmin/setKey", { ...r, userPubKey: randomPubKey(), customData });
        const current = await rpc<KeyRecord>("pki/getCurrentKey", r);
        assert.ok("customData" in current, `customData ${JSON.stringify(customData)} missing`);
        assert.equal(JSON.stringify(current.customData), JSON.stringify(customData));
        const [newest] = await rpc<KeyRecord[]>("pki/getKeyHistory", r);
        assert.equal(JSON.stringify(newest?.customData), JSON.stringify(customData));
        const at = await rpc<KeyRecord>("pki/getKeyAt", { ...r, date: current.createDate });
        assert.equal(JSON.stringify(at.customData), JSON.stringify(customData));
      }
    });

    it("answers setKey and deleteKey racing on one history as if they ran one at a time", async () => {
      const r = ref();
      const [k1, k2] = [randomPubKey(), randomPubKey()];
      await rpc("pkiAdmin/setKey", { ...r, userPubKey: k1 });
      let succeeded = 1;
      for (let round = 0; round < 8; round++) {
        const replies = await Promise.all([
          call(url(), "pkiAdmin/deleteKey", r, h),
          call(url(), "pkiAdmin/deleteKey", r, h),
          call(url(), "pkiAdmin/setKey", { ...r, userPubKey: k1 }, h),
          call(url(), "pkiAdmin/setKey", { ...r, userPubKey: k2 }, h),
        ]);
        for (const reply of replies) {
          if (reply.error) assert.ok([79, 81].includes(reply.error.code), JSON.stringify(reply.error));
          else succeeded++;
        }
      }
      const history = (await rpc<KeyRecord[]>("pki/getKeyHistory", r)).reverse();
      assert.equal(history.length, succeeded);
      for (let i = 1; i < history.length; i++) {
        const [prev, rec] = [history[i - 1] as KeyRecord, history[i] as KeyRecord];
        assert.ok(rec.createDate > prev.createDate, `createDate not increasing at ${i}`);
        if (rec.userPubKey === undefined) assert.notEqual(prev.userPubKey, undefined, `double deletion at ${i}`);
        else assert.notEqual(rec.userPubKey, prev.userPubKey, `current key set again at ${i}`);
      }
    });

    it("keeps createDate strictly increasing under 20 concurrent setKey calls on one history", async () => {
      const r = ref();
      const keys = Array.from({ length: 20 }, () => randomPubKey());
      const replies = await Promise.all(
        keys.map((userPubKey) => call(url(), "pkiAdmin/setKey", { ...r, userPubKey }, h)),
      );
      for (const reply of replies) assert.equal(reply.result, "OK", JSON.stringify(reply.error));
      const history = await rpc<KeyRecord[]>("pki/getKeyHistory", r);
      assert.equal(history.length, 20);
      for (let i = 1; i < history.length; i++) {
        assert.ok(
          (history[i - 1] as KeyRecord).createDate > (history[i] as KeyRecord).createDate,
          `createDate strictly decreasing at ${i}`,
        );
      }
      assert.deepEqual(new Set(history.map((x) => x.userPubKey)), new Set(keys));
      // Every record answers getKeyAt at its own createDate.
      for (const rec of history) {
        assert.equal((await rpc<KeyRecord>("pki/getKeyAt", { ...r, date: rec.createDate })).userPubKey, rec.userPubKey);
      }
    });

    it("keeps histories of different contexts and instances apart", async () => {
      const r = ref();
      const k = randomPubKey();
      await rpc("pkiAdmin/setKey", { ...r, userPubKey: k });
      assert.equal(await fail("pki/getCurrentKey", { ...r, contextId: uniq("other") }), 79);
      assert.equal(await fail("pki/getCurrentKey", { ...r, instanceId: randomPubKey() }), 79);
    });
  });
}
