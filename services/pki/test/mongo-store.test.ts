import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectMongo, isDuplicateKeyError, type MongoHandle } from "@pkiserver/kit";
import { createMongoStores, randomPubKey } from "@pkiserver/pki";
import { pkiStoreContract } from "@pkiserver/pki/store-contract";
import { getInfra } from "@pkiserver/test-harness";
import { MongoBulkWriteError } from "mongodb";

let dbName: string | undefined;

/** One database for this file; the contract's tests use fresh keys and URLs within it. */
async function connect(): Promise<MongoHandle> {
  const infra = await getInfra();
  dbName ??= infra.freshName("pki_store");
  return connectMongo(infra.mongoUrl, dbName);
}

pkiStoreContract("mongodb", async () => {
  const mongo = await connect();
  const stores = await createMongoStores(mongo.db);
  return { ...stores, close: () => mongo.close() };
});

describe("mongodb pki stores", () => {
  let mongo: MongoHandle;
  before(async () => {
    mongo = await connect();
  });
  after(async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  });

  it("starting again on an existing database keeps the data and the indexes", async () => {
    const first = await createMongoStores(mongo.db);
    const key = randomPubKey();
    await first.hosts.create(key, `https://${key}.example`);
    const second = await createMongoStores(mongo.db);
    assert.equal((await second.hosts.get(key))?.instanceId, key);
    const names = (await mongo.db.collection("key_history").listIndexes().toArray()).map((i) => i.name);
    assert.ok(names.includes("key_history_seq") && names.includes("key_history_date"));
  });

  it("the database itself refuses a second record with the same seq in one history", async () => {
    await createMongoStores(mongo.db);
    const col = mongo.db.collection("key_history");
    const record = { userId: "racer", instanceId: randomPubKey(), contextId: "ctx", seq: 1, createDate: 1 };
    await col.insertOne({ ...record });
    await assert.rejects(col.insertOne({ ...record, createDate: 2 }), (err: unknown) => isDuplicateKeyError(err));
    await col.insertOne({ ...record, contextId: "other" });
  });

  it("an ordered insert of several records stops at a taken seq and says how many it wrote before it", async () => {
    // A replica's batch relies on this to keep the records before a lost race and retry only the rest.
    await createMongoStores(mongo.db);
    const col = mongo.db.collection("key_history");
    const history = { userId: "batcher", instanceId: randomPubKey(), contextId: "ctx" };
    await col.insertOne({ ...history, seq: 3, createDate: 3 });
    const batch = [1, 2, 3, 4].map((seq) => ({ ...history, seq, createDate: seq }));
    const err = await col.insertMany(batch, { ordered: true }).then(
      () => assert.fail("the taken seq was written again"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof MongoBulkWriteError, String(err));
    assert.equal(err.insertedCount, 2);
    assert.equal([err.writeErrors].flat()[0]?.code, 11000);
    const seqs = (await col.find(history).sort({ seq: 1 }).toArray()).map((d) => d.seq);
    assert.deepEqual(seqs, [1, 2, 3]);
  });

  it("a replica that wrote a history last plans on that record, and still sees another replica's later ones", async () => {
    const a = await createMongoStores(mongo.db);
    const b = await createMongoStores(mongo.db);
    const ref = { userId: "alternating", instanceId: randomPubKey(), contextId: "ctx" };
    const [k1, k2, k3] = [randomPubKey(), randomPubKey(), randomPubKey()];
    const clock = { now: () => Date.now() };
    const setKey = (store: typeof a, key: string) =>
      store.keys.append(
        ref,
        (last) => {
          if (last?.userPubKey === key) throw new Error("already the current key");
          return { userPubKey: key };
        },
        clock,
      );
    assert.equal((await setKey(a, k1)).seq, 1);
    assert.equal((await setKey(b, k2)).seq, 2);
    // a remembers k1 as the newest: setting k1 again is judged on a fresh read, where k2 is current.
    assert.equal((await setKey(a, k1)).seq, 3);
    assert.equal((await setKey(b, k3)).seq, 4);
    // a remembers seq 3; its next write finds seq 4 taken and is planned again on a fresh read.
    const fourth = await setKey(a, k2);
    assert.equal(fourth.seq, 5);
    await assert.rejects(setKey(b, k2), /already the current key/);
    const seqs = (await mongo.db.collection("key_history").find(ref).sort({ seq: 1 }).toArray()).map((d) => [
      d.seq,
      d.userPubKey,
    ]);
    assert.deepEqual(seqs, [
      [1, k1],
      [2, k2],
      [3, k1],
      [4, k3],
      [5, k2],
    ]);
  });

  it("a host stored without URL positions keeps its URLs first and takes new ones after them", async () => {
    const stores = await createMongoStores(mongo.db);
    const key = randomPubKey();
    const [older, old, added] = [`https://y-${key}.example`, `https://x-${key}.example`, `https://a-${key}.example`];
    // The shape of documents written before URL positions were kept.
    type Doc = { _id: string } & Record<string, unknown>;
    await mongo.db.collection<Doc>("hosts").insertOne({ _id: key, gen: "g0", createdAt: 1 });
    await mongo.db.collection<Doc>("host_urls").insertMany([
      { _id: older, instanceId: key, gen: "g0", addedAt: 10 },
      { _id: old, instanceId: key, gen: "g0", addedAt: 20 },
    ]);
    assert.deepEqual((await stores.hosts.addUrl(key, added)).addresses, [older, old, added]);
    assert.deepEqual((await stores.hosts.get(key))?.addresses, [older, old, added]);
  });

  it("a URL left behind by a host deleted mid-way is reclaimed, not treated as taken", async () => {
    const stores = await createMongoStores(mongo.db);
    const gone = randomPubKey();
    const url = `https://${gone}.stale.example`;
    await stores.hosts.create(gone, url);
    // What a process stopping between the two writes of deleteHost leaves.
    await mongo.db.collection<{ _id: string }>("hosts").deleteOne({ _id: gone });
    assert.equal(await stores.hosts.findByUrl(url), undefined);
    const next = randomPubKey();
    assert.deepEqual((await stores.hosts.create(next, url)).addresses, [url]);
    assert.equal((await stores.hosts.findByUrl(url))?.instanceId, next);
  });
});
