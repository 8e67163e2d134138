import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectMongo, type MongoHandle } from "@pkiserver/kit";
import {
  decodeEntry,
  generateSigner,
  historyKey,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  toBase64,
  verifyConsistency,
  verifyHeadMapProof,
  verifyInclusion,
} from "@pkiserver/log";
import {
  createMongoStores,
  LOG_COLLECTIONS,
  MongoTransparencyLog,
  type PkiStores,
  randomPubKey,
  withTransparencyLog,
} from "@pkiserver/pki";
import { getInfra } from "@pkiserver/test-harness";

const clock = { t: 1_700_000_000_000, now: () => clock.t };
const signer = generateSigner("mongo.example/log");

describe("transparency log on MongoDB, two replicas", () => {
  let mongo: MongoHandle;
  let raw: PkiStores;
  let a: MongoTransparencyLog;
  let b: MongoTransparencyLog;
  let viaA: PkiStores;
  let viaB: PkiStores;

  before(async () => {
    const infra = await getInfra();
    mongo = await connectMongo(infra.mongoUrl, infra.freshName("pki_log"));
    raw = await createMongoStores(mongo.db);
    await MongoTransparencyLog.ensureIndexes(mongo.db);
    a = new MongoTransparencyLog(mongo.db, signer, raw.keys, 60_000);
    b = new MongoTransparencyLog(mongo.db, signer, raw.keys, 60_000);
    viaA = withTransparencyLog(raw, a, clock);
    viaB = withTransparencyLog(raw, b, clock);
  });
  after(async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  });

  const ref = { userId: "user-m", instanceId: randomPubKey(), contextId: "ctx-mongo" };
  const set = (stores: PkiStores, key: string) => {
    clock.t += 10;
    return stores.keys.append(ref, () => ({ userPubKey: key }), clock);
  };

  it("one replica sequences; both publish the same checkpoint and proofs that verify", async () => {
    const host = randomPubKey();
    await viaA.hosts.create(host, `https://${host}.example`);
    await set(viaA, randomPubKey());
    await set(viaB, randomPubKey());
    await set(viaA, randomPubKey());
    await Promise.all([a.sequence(), b.sequence()]);
    await Promise.all([a.sequence(), b.sequence()]);
    const [ca, cb] = [await a.checkpoint(), await b.checkpoint()];
    assert.equal(ca.note, cb.note);
    assert.equal(ca.size, 4);
    const c = openCheckpoint(cb.note, parseVerifierKey(cb.verifierKey));
    const p = await b.keyProof(ref, clock.t);
    assert.ok(verifyInclusion(leafHash(p.entry.entry), p.entry.leafIndex, c.size, p.entry.hashes, c.root));
    const k = historyKey(ref.userId, ref.instanceId, ref.contextId);
    assert.ok(p.head && verifyHeadMapProof(k, leafHash(p.entry.entry), p.head, c.headMapRoot));
    const entries = [];
    for (let i = 0; i < 4; i++) entries.push(decodeEntry((await a.inclusionProof(i, 4)).entry));
    assert.deepEqual(
      entries.map((e) => (e.type === "key" ? e.seq : "host")),
      ["host", 0, 1, 2],
    );
  });

  it("rebuilds the entry of a change whose writer stopped before appending it", async () => {
    const before = await a.checkpoint();
    // Written to the history without the log, as if the process died in between.
    const lost = await raw.keys.append(ref, () => ({ userPubKey: randomPubKey() }), clock);
    await set(viaB, randomPubKey());
    await a.sequence();
    const after = await b.checkpoint();
    assert.equal(after.size, before.size + 2);
    const [x, y] = [
      await b.inclusionProof(before.size, after.size),
      await b.inclusionProof(before.size + 1, after.size),
    ];
    const [ex, ey] = [decodeEntry(x.entry), decodeEntry(y.entry)];
    assert.ok(ex.type === "key" && ex.seq === lost.seq - 1 && ex.userPubKey === lost.userPubKey);
    assert.ok(ey.type === "key" && ey.seq === lost.seq && ey.prev === toBase64(leafHash(x.entry)));
    const cons = await b.consistencyProof(before.size, after.size);
    assert.ok(verifyConsistency(before.size, after.size, cons, before.root, after.root));
  });

  it("stores each full tile once and serves it as stored", async () => {
    for (let i = 0; i < 256; i++) {
      const host = randomPubKey();
      await viaB.hosts.create(host, `https://${host}.example`);
    }
    await a.sequence();
    const cp = await b.checkpoint();
    assert.ok(cp.size >= 256);
    const stored = await mongo.db.collection(LOG_COLLECTIONS.tiles).find({}).toArray();
    assert.deepEqual(stored.map((d) => d._id).sort(), ["tile/0/000", "tile/entries/000"]);
    const tile = await b.tile({ level: 0, index: 0, width: 256 });
    assert.equal(tile?.length, 256 * 32);
    assert.deepEqual(tile?.subarray(0, 32), leafHash((await b.inclusionProof(0, cp.size)).entry));
  });

  it("replicas that stop hand sequencing over at once, not when the lease runs out", async () => {
    await Promise.all([a.close(), b.close()]);
    const c = new MongoTransparencyLog(mongo.db, signer, raw.keys, 60_000);
    const before = (await c.checkpoint()).size;
    await set(withTransparencyLog(raw, c, clock), randomPubKey());
    await c.sequence();
    assert.equal((await c.checkpoint()).size, before + 1);
    await c.close();
  });
});
