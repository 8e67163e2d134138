import { performance } from "node:perf_hooks";
import { AppError, isDuplicateKeyError } from "@pkiserver/kit";
import type { Collection, Db } from "mongodb";
import type { KeyEntry, KeyRecord, KeyRef } from "../domain/entities";
import type { Clock, KeyHistoryStore } from "../domain/ports";
import { APPEND_RETRY_BUDGET_MS, nextCreateDate, toRecord } from "./key-history";

interface KeyRecordDoc {
  userId: string;
  instanceId: string;
  contextId: string;
  seq: number;
  createDate: number;
  userPubKey?: string;
  /** Kept as text: caller JSON may hold keys MongoDB treats specially ($, dots). */
  customData?: string;
}

export const KEY_HISTORY_COLLECTION = "key_history";

const NO_ID = { projection: { _id: 0 } } as const;

/**
 * Histories in MongoDB, one document per record. The unique index on
 * (history, seq) makes concurrent appends race safely: each writer inserts
 * last.seq + 1 and the loser of a race re-reads and tries again.
 */
export class MongoKeyHistoryStore implements KeyHistoryStore {
  private readonly col: Collection<KeyRecordDoc>;

  constructor(db: Db) {
    this.col = db.collection<KeyRecordDoc>(KEY_HISTORY_COLLECTION);
  }

  static async ensureIndexes(db: Db): Promise<void> {
    const col = db.collection<KeyRecordDoc>(KEY_HISTORY_COLLECTION);
    await col.createIndex(
      { userId: 1, instanceId: 1, contextId: 1, seq: 1 },
      { name: "key_history_seq", unique: true },
    );
    // Serves the lookups by time: the newest record at or before a date is the
    // first index entry at or below it, whatever the history's length.
    await col.createIndex({ userId: 1, instanceId: 1, contextId: 1, createDate: -1 }, { name: "key_history_date" });
  }

  async append(ref: KeyRef, next: (last: KeyRecord | undefined) => KeyEntry, clock: Clock): Promise<KeyRecord> {
    // Wall time, not the domain clock: tests freeze that one.
    const giveUpAt = performance.now() + APPEND_RETRY_BUDGET_MS;
    let attempts = 0;
    while (performance.now() < giveUpAt) {
      attempts++;
      const last = await this.latest(ref);
      const entry = next(last);
      const record = toRecord(ref, (last?.seq ?? 0) + 1, nextCreateDate(clock.now(), last), entry);
      try {
        // A copy: the driver adds _id to the object it inserts.
        await this.col.insertOne({ ...record });
        return record;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
    }
    throw new AppError("rpc.internal", {
      internal: `key history append lost ${attempts} races in ${APPEND_RETRY_BUDGET_MS} ms`,
    });
  }

  async latest(ref: KeyRef): Promise<KeyRecord | undefined> {
    const doc = await this.col.findOne(filter(ref), { ...NO_ID, sort: { seq: -1 } });
    return doc ? fromDoc(doc) : undefined;
  }

  async at(ref: KeyRef, date: number): Promise<KeyRecord | undefined> {
    const docs = await this.col
      .find({ ...filter(ref), createDate: { $lte: date } }, NO_ID)
      .sort({ createDate: -1 })
      .limit(1)
      .toArray();
    const doc = docs[0];
    return doc ? fromDoc(doc) : undefined;
  }

  async history(ref: KeyRef): Promise<KeyRecord[]> {
    const docs = await this.col.find(filter(ref), NO_ID).sort({ createDate: -1 }).toArray();
    return docs.map(fromDoc);
  }
}

function filter(ref: KeyRef): Pick<KeyRecordDoc, "userId" | "instanceId" | "contextId"> {
  return { userId: ref.userId, instanceId: ref.instanceId, contextId: ref.contextId };
}

function fromDoc(doc: KeyRecordDoc): KeyRecord {
  return toRecord(doc, doc.seq, doc.createDate, {
    ...(typeof doc.userPubKey === "string" ? { userPubKey: doc.userPubKey } : {}),
    ...(typeof doc.customData === "string" ? { customData: doc.customData } : {}),
  });
}
