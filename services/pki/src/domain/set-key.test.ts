import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { hasCode, invalidField, newRef, testDeps } from "../testing/fixtures";
import { deleteKey } from "./delete-key";
import { getCurrentKey } from "./get-current-key";
import { getKeyHistory } from "./get-key-history";
import { setKey } from "./set-key";

describe("setKey", () => {
  it("appends a record stamped with server time and reports it", async () => {
    const { deps, clock, events } = testDeps();
    const ref = newRef();
    const key = randomPubKey();
    const record = await setKey(deps, { ref, userPubKey: key });
    assert.deepEqual(record, { ...ref, seq: 1, createDate: clock.t, userPubKey: key });
    assert.deepEqual(await getCurrentKey(deps, { ref }), record);
    assert.deepEqual(events, [{ type: "userKeySet", record }]);
  });

  it("answers 81 when the key is already the current one, and writes nothing", async () => {
    const { deps, events } = testDeps();
    const ref = newRef();
    const key = randomPubKey();
    await setKey(deps, { ref, userPubKey: key });
    await assert.rejects(setKey(deps, { ref, userPubKey: key }), hasCode("pki.key_already_exists"));
    assert.equal((await getKeyHistory(deps, { ref })).length, 1);
    assert.equal(events.length, 1);
  });

  it("accepts a key used earlier once another replaced it, and after a deletion", async () => {
    const { deps, clock } = testDeps();
    const ref = newRef();
    const [k1, k2] = [randomPubKey(), randomPubKey()];
    await setKey(deps, { ref, userPubKey: k1 });
    clock.t += 10;
    await setKey(deps, { ref, userPubKey: k2 });
    clock.t += 10;
    assert.equal((await setKey(deps, { ref, userPubKey: k1 })).userPubKey, k1);
    clock.t += 10;
    await deleteKey(deps, { ref });
    clock.t += 10;
    const back = await setKey(deps, { ref, userPubKey: k1 });
    assert.equal(back.seq, 5);
    assert.equal((await getCurrentKey(deps, { ref })).userPubKey, k1);
  });

  it("does not require the instance to be a registered host", async () => {
    const { deps } = testDeps();
    assert.deepEqual(await deps.hosts.list(), []);
    const ref = newRef();
    assert.equal((await setKey(deps, { ref, userPubKey: randomPubKey() })).instanceId, ref.instanceId);
  });

  it("returns customData with the record, serialised compactly", async () => {
    const { deps } = testDeps();
    const ref = newRef();
    const record = await setKey(deps, { ref, userPubKey: randomPubKey(), customData: '{ "a": [1, 2], "b": "x" }' });
    assert.equal(record.customData, '{"a":[1,2],"b":"x"}');
    assert.deepEqual(JSON.parse((await getCurrentKey(deps, { ref })).customData ?? "null"), { a: [1, 2], b: "x" });
  });

  it("accepts customData of exactly 4 KiB serialised and refuses one byte more", async () => {
    const { deps } = testDeps();
    const ref = newRef();
    const fits = JSON.stringify("x".repeat(4096 - 2));
    assert.equal(Buffer.byteLength(fits), 4096);
    await setKey(deps, { ref, userPubKey: randomPubKey(), customData: fits });
    const over = JSON.stringify("x".repeat(4096 - 1));
    await assert.rejects(
      setKey(deps, { ref, userPubKey: randomPubKey(), customData: over }),
      invalidField("customData"),
    );
    // Multi-byte characters count by their UTF-8 size.
    const wide = JSON.stringify("é".repeat(2048));
    await assert.rejects(
      setKey(deps, { ref, userPubKey: randomPubKey(), customData: wide }),
      invalidField("customData"),
    );
    await assert.rejects(
      setKey(deps, { ref, userPubKey: randomPubKey(), customData: "{not json" }),
      invalidField("customData"),
    );
    assert.equal((await getKeyHistory(deps, { ref })).length, 1);
  });

  it("refuses invalid keys and ids outside 3..128 characters", async () => {
    const { deps } = testDeps();
    const ref = newRef();
    await assert.rejects(setKey(deps, { ref, userPubKey: "bad" }), invalidField("userPubKey"));
    await assert.rejects(
      setKey(deps, { ref: { ...ref, instanceId: "bad" }, userPubKey: randomPubKey() }),
      invalidField("instanceId"),
    );
    await assert.rejects(
      setKey(deps, { ref: { ...ref, userId: "ab" }, userPubKey: randomPubKey() }),
      invalidField("userId"),
    );
    await assert.rejects(
      setKey(deps, { ref: { ...ref, contextId: "c".repeat(129) }, userPubKey: randomPubKey() }),
      invalidField("contextId"),
    );
  });

  it("keeps createDate strictly increasing when writes land in the same millisecond", async () => {
    const { deps } = testDeps();
    const ref = newRef();
    const records = await Promise.all(
      Array.from({ length: 5 }, () => setKey(deps, { ref, userPubKey: randomPubKey() })),
    );
    const dates = records.map((r) => r.createDate).sort((a, b) => a - b);
    assert.equal(new Set(dates).size, 5);
  });
});
