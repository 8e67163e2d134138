import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit";
import { type BulkWriteResult, type Db, MongoBulkWriteError, MongoServerError } from "mongodb";
import type { KeyEntry, KeyRecord, KeyRef } from "../domain/entities";
import { MAX_PENDING_APPENDS } from "./key-history";
import { MongoKeyHistoryStore } from "./mongo-key-history-store";

const ref: KeyRef = { userId: "user-1", instanceId: "instance-1", contextId: "ctx-1" };
const clock = { now: () => 1_700_000_000_000 };

/** What the driver throws when an ordered insertMany stops at a taken seq after writing `inserted` records. */
function duplicateAt(inserted: number): MongoBulkWriteError {
  return new MongoBulkWriteError(
    {
      message: "E11000 duplicate key",
      code: 11000,
      writeErrors: [{ code: 11000, index: inserted } as never],
    },
    { insertedCount: inserted } as BulkWriteResult,
  );
}

/** A collection whose inserts lose `races` duplicate-key races (other writers got there first). */
function racingDb(races: number): { db: Db; inserts: () => number } {
  let attempts = 0;
  const col = {
    findOne: async () => null,
    insertMany: async () => {
      attempts++;
      if (attempts <= races) throw duplicateAt(0);
      return { acknowledged: true };
    },
  };
  return { db: { collection: () => col } as unknown as Db, inserts: () => attempts };
}

/** Sets `key` unless it is the current key, as setKey does. */
const set =
  (key: string) =>
  (last: KeyRecord | undefined): KeyEntry => {
    if (last?.userPubKey === key) throw new AppError("pki.key_already_exists");
    return { userPubKey: key };
  };

/** Sets each of `keys` on the same history at once, as concurrent setKey calls do. */
function setAll(store: MongoKeyHistoryStore, keys: readonly string[]) {
  return Promise.allSettled(keys.map((k) => store.append(ref, set(k), clock)));
}

describe("MongoKeyHistoryStore.append under contention", () => {
  it("keeps retrying lost races for as long as they are lost quickly (a burst of 100 writers)", async () => {
    const { db, inserts } = racingDb(100);
    const store = new MongoKeyHistoryStore(db);
    const record = await store.append(ref, () => ({ userPubKey: "k" }), clock);
    assert.equal(inserts(), 101);
    assert.equal(record.userPubKey, "k");
  });

  it("passes other driver errors through without retrying", async () => {
    let attempts = 0;
    const col = {
      findOne: async () => null,
      insertMany: async () => {
        attempts++;
        throw new MongoServerError({ message: "not writable", code: 10107 });
      },
    };
    const store = new MongoKeyHistoryStore({ collection: () => col } as unknown as Db);
    await assert.rejects(
      store.append(ref, () => ({ userPubKey: "k" }), clock),
      (err: unknown) => !(err instanceof AppError),
    );
    assert.equal(attempts, 1);
  });
});

type Doc = KeyRecord;

/**
 * A collection as one replica sees it: records in memory, each operation
 * taking a turn of the event loop as a round trip would, ordered inserts that
 * stop at a seq already taken (reported as the driver does), and `beforeInsert`
 * to let another replica write first.
 */
function sharedDb(beforeInsert?: (call: number, docs: Doc[]) => void) {
  const docs: Doc[] = [];
  const stats = { lostRaces: 0, inserts: 0, inFlight: 0, maxInFlight: 0 };
  const same = (d: Doc, f: KeyRef) =>
    d.userId === f.userId && d.instanceId === f.instanceId && d.contextId === f.contextId;
  const roundTrip = async <T>(fn: () => T): Promise<T> => {
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    await new Promise((r) => setImmediate(r));
    stats.inFlight--;
    return fn();
  };
  const col = {
    findOne: (f: KeyRef) => roundTrip(() => docs.filter((d) => same(d, f)).sort((x, y) => y.seq - x.seq)[0] ?? null),
    insertMany: (batch: Doc[]) =>
      roundTrip(() => {
        stats.inserts++;
        beforeInsert?.(stats.inserts, docs);
        for (const [i, doc] of batch.entries()) {
          if (docs.some((d) => same(d, doc) && d.seq === doc.seq)) {
            stats.lostRaces++;
            throw duplicateAt(i);
          }
          docs.push(doc);
        }
        return { acknowledged: true };
      }),
  };
  return { db: { collection: () => col } as unknown as Db, stats, docs };
}

describe("MongoKeyHistoryStore.append within one replica", () => {
  it("takes the appends of one history in turn, so they never race each other, in a few round trips", async () => {
    const { db, stats } = sharedDb();
    const store = new MongoKeyHistoryStore(db);
    const records = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.append(ref, () => ({ userPubKey: `k${i}` }), clock)),
    );
    assert.equal(stats.lostRaces, 0);
    // The first append alone, then the 49 that arrived while it was written.
    assert.equal(stats.inserts, 2);
    // In the order they were called, each after the one before, a millisecond apart at least.
    assert.deepEqual(
      records.map((r) => [r.seq, r.userPubKey, r.createDate]),
      records.map((_, i) => [i + 1, `k${i}`, clock.now() + i]),
    );
  });

  it("judges each append of a batch against the record the append before it writes", async () => {
    const { db, docs } = sharedDb();
    const store = new MongoKeyHistoryStore(db);
    const results = await setAll(store, ["a", "b", "b", "a"]);
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value.userPubKey : (r.reason as AppError).code)),
      ["a", "b", "pki.key_already_exists", "a"],
    );
    assert.deepEqual(
      docs.map((d) => [d.seq, d.userPubKey]),
      [
        [1, "a"],
        [2, "b"],
        [3, "a"],
      ],
    );
  });

  it("keeps the records written before a race lost mid-batch and judges the rest against the other replica's record", async () => {
    const { db, stats, docs } = sharedDb((call, all) => {
      // Another replica writes seq 3 (key "c") just before the second batch lands.
      if (call === 2) all.push({ ...ref, seq: 3, createDate: clock.now() + 5, userPubKey: "c" });
    });
    const store = new MongoKeyHistoryStore(db);
    const results = await setAll(store, ["x", "a", "c", "d"]);
    assert.equal(stats.lostRaces, 1);
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? [r.value.seq, r.value.userPubKey] : (r.reason as AppError).code)),
      [[1, "x"], [2, "a"], "pki.key_already_exists", [4, "d"]],
    );
    const history = [...docs].sort((x, y) => x.seq - y.seq);
    assert.deepEqual(
      history.map((d) => d.seq),
      [1, 2, 3, 4],
    );
    for (let k = 1; k < history.length; k++) {
      assert.ok((history[k] as Doc).createDate > (history[k - 1] as Doc).createDate, `createDate at seq ${k + 1}`);
    }
  });

  it("appends to different histories do not wait for each other", async () => {
    const { db, stats } = sharedDb();
    const store = new MongoKeyHistoryStore(db);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.append({ ...ref, contextId: `ctx-${i}` }, () => ({}), clock)),
    );
    assert.equal(stats.maxInFlight, 10);
  });

  it("an append right after the queue empties is still served", async () => {
    const { db } = sharedDb();
    const store = new MongoKeyHistoryStore(db);
    const first = await store.append(ref, set("a"), clock);
    const second = await store.append(ref, set("b"), clock);
    assert.deepEqual([first.seq, second.seq], [1, 2]);
  });

  it("refuses appends beyond the queue's bound on one history as too many requests", async () => {
    const { db } = sharedDb();
    const store = new MongoKeyHistoryStore(db);
    const results = await Promise.allSettled(
      Array.from({ length: MAX_PENDING_APPENDS + 3 }, (_, i) =>
        store.append(ref, () => ({ userPubKey: `k${i}` }), clock),
      ),
    );
    const refused = results.filter((r) => r.status === "rejected");
    assert.equal(refused.length, 3);
    for (const r of refused) assert.equal((r.reason as AppError).code, "rpc.too_many_requests");
    // Once the queue has drained, appends are taken again.
    assert.equal((await store.append(ref, () => ({}), clock)).seq, MAX_PENDING_APPENDS + 1);
  });
});
