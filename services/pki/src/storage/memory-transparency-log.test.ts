import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import {
  decodeEntry,
  encodeVerifierKey,
  fromBase64,
  generateSigner,
  historyKey,
  type KeyProofAnswer,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  provesKey,
  toBase64,
  VerificationError,
  verifyConsistency,
  verifyHeadMapProof,
  verifyInclusion,
  verifyKeyProof,
} from "@pkiserver/log";
import { addHostUrl } from "../domain/add-host-url";
import { deleteHost } from "../domain/delete-host";
import { deleteKey } from "../domain/delete-key";
import type { PkiDeps } from "../domain/ports";
import { removeHostUrl } from "../domain/remove-host-url";
import { setHost } from "../domain/set-host";
import { setKey } from "../domain/set-key";
import type { EntryProof, KeyProof } from "../domain/transparency";
import { hasCode, newRef, testDeps } from "../testing/fixtures";
import { withTransparencyLog } from "./logged-stores";
import { MemoryTransparencyLog } from "./memory-transparency-log";

/** A KeyProof as the gateway sends it (base64, record as the API shows it). */
function toAnswer(p: KeyProof): KeyProofAnswer {
  const e = (x: EntryProof) => ({ leafIndex: x.leafIndex, entry: toBase64(x.entry), hashes: x.hashes.map(toBase64) });
  const { customData, seq: _seq, ...record } = p.record;
  return {
    checkpoint: p.checkpoint,
    record: { ...record, ...(customData === undefined ? {} : { customData: JSON.parse(customData) }) },
    entry: e(p.entry),
    ...(p.next ? { next: e(p.next) } : {}),
    ...(p.head ? { head: p.head } : {}),
  };
}

function loggedDeps() {
  const { deps, clock } = testDeps();
  const log = new MemoryTransparencyLog(generateSigner("test.example/log"));
  const logged: PkiDeps = { ...deps, ...withTransparencyLog({ hosts: deps.hosts, keys: deps.keys }, log, clock) };
  return { deps: logged, clock, log };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("transparency log of the directory (memory)", () => {
  it("an empty log has a signed checkpoint of size 0, root SHA-256('') and head-map root Z0", async () => {
    const { log } = loggedDeps();
    const cp = await log.checkpoint();
    assert.equal(cp.size, 0);
    assert.equal(
      Buffer.from(cp.root).toString("hex"),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    const opened = openCheckpoint(cp.note, parseVerifierKey(cp.verifierKey));
    assert.equal(opened.size, 0);
  });

  it("every directory change appends one canonical entry in commit order", async () => {
    const { deps, clock, log } = loggedDeps();
    const host = randomPubKey();
    const ref = { ...newRef(), instanceId: host };
    const [k1, k2] = [randomPubKey(), randomPubKey()];
    await setHost(deps, { hostPubKey: host, hostUrl: "a.example:1" });
    await addHostUrl(deps, { instanceId: host, hostUrl: "b.example:2" });
    clock.t += 10;
    await setKey(deps, { ref, userPubKey: k1, customData: '{"a":1}' });
    clock.t += 10;
    await setKey(deps, { ref, userPubKey: k2 });
    await deleteKey(deps, { ref });
    await removeHostUrl(deps, { instanceId: host, hostUrl: "a.example:1" });
    await deleteHost(deps, { instanceId: host });
    await log.sequence();
    const cp = await log.checkpoint();
    assert.equal(cp.size, 7);
    const entries = [];
    for (let i = 0; i < 7; i++) entries.push((await log.inclusionProof(i, 7)).entry);
    const t0 = 1_700_000_000_000;
    assert.deepEqual(entries.map(text), [
      `{"addresses":["a.example:1"],"createDate":${t0},"deleted":false,"hostPubKey":"${host}","instanceId":"${host}","type":"host"}`,
      `{"addresses":["a.example:1","b.example:2"],"createDate":${t0},"deleted":false,"hostPubKey":"${host}","instanceId":"${host}","type":"host"}`,
      `{"contextId":"${ref.contextId}","createDate":${t0 + 10},"customData":"{\\"a\\":1}","instanceId":"${host}","seq":0,"type":"key","userId":"user1","userPubKey":"${k1}"}`,
      `{"contextId":"${ref.contextId}","createDate":${t0 + 20},"instanceId":"${host}","prev":"${toBase64(leafHash(entries[2]!))}","seq":1,"type":"key","userId":"user1","userPubKey":"${k2}"}`,
      `{"contextId":"${ref.contextId}","createDate":${t0 + 21},"instanceId":"${host}","prev":"${toBase64(leafHash(entries[3]!))}","seq":2,"type":"key","userId":"user1"}`,
      `{"addresses":["b.example:2"],"createDate":${t0 + 20},"deleted":false,"hostPubKey":"${host}","instanceId":"${host}","type":"host"}`,
      `{"addresses":[],"createDate":${t0 + 20},"deleted":true,"hostPubKey":"${host}","instanceId":"${host}","type":"host"}`,
    ]);
    for (const e of entries) decodeEntry(e);
  });

  it("a refused change appends nothing", async () => {
    const { deps, log } = loggedDeps();
    const ref = newRef();
    const k = randomPubKey();
    await setKey(deps, { ref, userPubKey: k });
    await assert.rejects(setKey(deps, { ref, userPubKey: k }), hasCode("pki.key_already_exists"));
    await assert.rejects(deleteHost(deps, { instanceId: randomPubKey() }), hasCode("pki.host_not_found"));
    await log.sequence();
    assert.equal((await log.checkpoint()).size, 1);
  });

  it("proofs verify against the signed checkpoint, and checkpoints are consistent", async () => {
    const { deps, clock, log } = loggedDeps();
    const ref = newRef();
    const keys = [randomPubKey(), randomPubKey(), randomPubKey()];
    await setKey(deps, { ref, userPubKey: keys[0]! });
    await log.sequence();
    const first = await log.checkpoint();
    clock.t += 100;
    await setKey(deps, { ref, userPubKey: keys[1]! });
    await setKey(deps, { ...{ ref: { ...ref, userId: "user2" } }, userPubKey: keys[2]! });
    clock.t += 100;
    await deleteKey(deps, { ref });
    await log.sequence();
    const cp = await log.checkpoint();
    const verifier = parseVerifierKey(cp.verifierKey);
    const opened = openCheckpoint(cp.note, verifier);
    assert.equal(opened.size, 4);
    const cons = await log.consistencyProof(first.size, cp.size);
    assert.ok(verifyConsistency(first.size, cp.size, cons, first.root, opened.root));

    // In force at the first key's date: the first record, with the next one proving it ended.
    const t0 = 1_700_000_000_000;
    const p = await log.keyProof(ref, t0 + 50);
    assert.equal(p.record.userPubKey, keys[0]);
    assert.ok(verifyInclusion(leafHash(p.entry.entry), p.entry.leafIndex, opened.size, p.entry.hashes, opened.root));
    assert.ok(p.next);
    assert.ok(verifyInclusion(leafHash(p.next.entry), p.next.leafIndex, opened.size, p.next.hashes, opened.root));
    const next = decodeEntry(p.next.entry);
    assert.ok(next.type === "key" && next.prev === toBase64(leafHash(p.entry.entry)) && next.createDate > t0 + 50);

    // The deletion is the history's newest record: the head map proves it.
    const last = await log.keyProof(ref, t0 + 1000);
    assert.equal(last.record.userPubKey, undefined);
    assert.equal(last.next, undefined);
    assert.ok(last.head);
    const k = historyKey(ref.userId, ref.instanceId, ref.contextId);
    assert.ok(verifyHeadMapProof(k, leafHash(last.entry.entry), last.head, opened.headMapRoot));
    assert.ok(!verifyHeadMapProof(k, leafHash(p.entry.entry), last.head, opened.headMapRoot));

    await assert.rejects(log.keyProof(ref, t0 - 1), hasCode("pki.no_key_at_time"));
    assert.ok(fromBase64(toBase64(cp.root)));
  });

  it("the offline verifier accepts honest key proofs and refuses every altered part", async () => {
    const { deps, clock, log } = loggedDeps();
    const ref = newRef();
    const [k1, k2] = [randomPubKey(), randomPubKey()];
    const t0 = clock.t;
    await setKey(deps, { ref, userPubKey: k1, customData: '{"b":[1,2],"a":"x"}' });
    await setKey(deps, { ref: { ...ref, contextId: "other-context" }, userPubKey: k2 });
    clock.t += 100;
    await setKey(deps, { ref, userPubKey: k2 });
    await log.sequence();
    const vkey = (await log.checkpoint()).verifierKey;
    const q = (date: number) => ({ ...ref, date });

    const old = toAnswer(await log.keyProof(ref, t0 + 50));
    const v = verifyKeyProof(old, vkey, q(t0 + 50));
    assert.ok(provesKey(v, k1) && !provesKey(v, k2));
    const now = toAnswer(await log.keyProof(ref, t0 + 500));
    assert.ok(provesKey(verifyKeyProof(now, vkey, q(t0 + 500)), k2));

    const flipB64 = (b64: string, i = 0) => {
      const b = Buffer.from(b64, "base64");
      b[i % b.length]! ^= 1;
      return b.toString("base64");
    };
    const bad: [string, KeyProofAnswer, number][] = [
      ["checkpoint text", { ...old, checkpoint: old.checkpoint.replace("\n3\n", "\n4\n") }, t0 + 50],
      ["entry byte", { ...old, entry: { ...old.entry, entry: flipB64(old.entry.entry, 5) } }, t0 + 50],
      [
        "entry proof hash",
        { ...old, entry: { ...old.entry, hashes: old.entry.hashes.map((h, i) => (i === 0 ? flipB64(h) : h)) } },
        t0 + 50,
      ],
      ["entry index", { ...old, entry: { ...old.entry, leafIndex: old.entry.leafIndex + 1 } }, t0 + 50],
      ["record key", { ...old, record: { ...old.record, userPubKey: k2 } }, t0 + 50],
      ["record data", { ...old, record: { ...old.record, customData: { a: "y", b: [1, 2] } } }, t0 + 50],
      ["next byte", { ...old, next: { ...old.next!, entry: flipB64(old.next!.entry, 9) } }, t0 + 50],
      // The old record with no next: the head map shows a newer one.
      ["hidden newer record", { ...old, next: undefined, head: now.head! }, t0 + 50],
      [
        "head sibling",
        { ...now, head: { ...now.head!, siblings: now.head!.siblings.map((h, i) => (i === 0 ? flipB64(h) : h)) } },
        t0 + 500,
      ],
      ["neither next nor head", { ...now, head: undefined }, t0 + 500],
      // Asking about a date before the shown record came into force.
      ["date before the record", now, t0 + 50],
      // The next record already in force at the asked date.
      ["next in force", old, t0 + 150],
      ["other history", now, 0],
    ];
    for (const [what, answer, date] of bad) {
      const query = what === "other history" ? { ...ref, contextId: "other-context", date: t0 + 500 } : q(date);
      assert.throws(() => verifyKeyProof(answer, vkey, query), VerificationError, what);
    }
    assert.throws(
      () => verifyKeyProof(old, encodeVerifierKey(generateSigner("test.example/log")), q(t0 + 50)),
      VerificationError,
    );
  });

  it("a change not yet sequenced is not covered by the checkpoint", async () => {
    const { deps, log } = loggedDeps();
    const ref = newRef();
    await setKey(deps, { ref, userPubKey: randomPubKey() });
    await log.sequence();
    await setKey(deps, { ref, userPubKey: randomPubKey() });
    const cp = await log.checkpoint();
    assert.equal(cp.size, 1);
    const p = await log.keyProof(ref, Number.MAX_SAFE_INTEGER);
    assert.equal(p.entry.leafIndex, 0);
    assert.ok(p.head);
  });

  it("refuses sizes and indexes beyond the checkpoint with invalid params", async () => {
    const { deps, log } = loggedDeps();
    await setKey(deps, { ref: newRef(), userPubKey: randomPubKey() });
    await setKey(deps, { ref: newRef(), userPubKey: randomPubKey() });
    await log.sequence();
    await assert.rejects(log.inclusionProof(0, 3), hasCode("rpc.invalid_params"));
    await assert.rejects(log.inclusionProof(2, 2), hasCode("rpc.invalid_params"));
    await assert.rejects(log.inclusionProof(0, 0), hasCode("rpc.invalid_params"));
    await assert.rejects(log.consistencyProof(0, 2), hasCode("rpc.invalid_params"));
    await assert.rejects(log.consistencyProof(2, 1), hasCode("rpc.invalid_params"));
    await assert.rejects(log.consistencyProof(1, 3), hasCode("rpc.invalid_params"));
    assert.deepEqual(await log.consistencyProof(2, 2), []);
    assert.equal(await log.tile({ level: 0, index: 0, width: 3 }), undefined);
    assert.equal((await log.tile({ level: 0, index: 0, width: 2 }))?.length, 64);
    assert.equal((await log.tile({ level: 0, index: 0, width: 1 }))?.length, 32);
    assert.equal(await log.tile({ level: 1, index: 0, width: 1 }), undefined);
    assert.equal(await log.tile({ level: 0, index: 1, width: 1 }), undefined);
    assert.equal(await log.tile({ level: 0, index: 0, width: 256 }), undefined);
  });

  it("a write is only handed over: its entry is made at the next round, chained even if records came out of order", async () => {
    const { deps, clock, log } = loggedDeps();
    const ref = newRef();
    await log.sequence();
    const records = [];
    for (let i = 0; i < 3; i++) {
      clock.t += 10;
      await setKey(deps, { ref, userPubKey: randomPubKey() });
      records.push((await deps.keys.latest(ref))!);
    }
    // Not in the checkpoint before the sequencer ran.
    assert.equal((await log.checkpoint()).size, 0);
    await log.sequence();
    const chained = [0, 1, 2].map(async (i) => text((await log.inclusionProof(i, 3)).entry));

    // The same records handed straight to another log, the last first: it waits for its predecessors.
    const other = new MemoryTransparencyLog(generateSigner("test.example/log"));
    other.appendKeyRecord(records[2]!);
    await other.sequence();
    assert.equal((await other.checkpoint()).size, 0);
    other.appendKeyRecord(records[0]!);
    other.appendKeyRecord(records[1]!);
    await other.sequence();
    assert.equal((await other.checkpoint()).size, 3);
    const reordered = [0, 1, 2].map(async (i) => text((await other.inclusionProof(i, 3)).entry));
    assert.deepEqual(await Promise.all(reordered), await Promise.all(chained));
    const last = decodeEntry((await other.inclusionProof(2, 3)).entry);
    assert.ok(last.type === "key" && last.seq === 2);
    assert.equal(last.prev, toBase64(leafHash((await other.inclusionProof(1, 3)).entry)));
  });
});
