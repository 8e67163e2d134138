import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit";
import { type Db, MongoServerError } from "mongodb";
import type { KeyRef } from "../domain/entities";
import { MongoKeyHistoryStore } from "./mongo-key-history-store";

const ref: KeyRef = { userId: "user-1", instanceId: "instance-1", contextId: "ctx-1" };
const clock = { now: () => 1_700_000_000_000 };

/** A collection whose inserts lose `races` duplicate-key races (other writers got there first). */
function racingDb(races: number): { db: Db; inserts: () => number } {
  let attempts = 0;
  const col = {
    findOne: async () => null,
    insertOne: async () => {
      attempts++;
      if (attempts <= races) throw new MongoServerError({ message: "E11000 duplicate key", code: 11000 });
      return { acknowledged: true };
    },
  };
  return { db: { collection: () => col } as unknown as Db, inserts: () => attempts };
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
      insertOne: async () => {
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
