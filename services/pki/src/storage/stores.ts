import type { Db } from "mongodb";
import type { HostStore, KeyHistoryStore } from "../domain/ports";
import { MemoryHostStore } from "./memory-host-store";
import { MemoryKeyHistoryStore } from "./memory-key-history-store";
import { MongoHostStore } from "./mongo-host-store";
import { type MongoKeyHistoryOptions, MongoKeyHistoryStore } from "./mongo-key-history-store";

export interface PkiStores {
  readonly hosts: HostStore;
  readonly keys: KeyHistoryStore;
}

export function createMemoryStores(): PkiStores {
  return { hosts: new MemoryHostStore(), keys: new MemoryKeyHistoryStore() };
}

/**
 * MongoDB stores; creates their indexes first (createIndex is a no-op when one exists).
 * `logIntents`: every key record is written with its transparency-log intent (the log is on).
 */
export async function createMongoStores(db: Db, options: MongoKeyHistoryOptions = {}): Promise<PkiStores> {
  await MongoHostStore.ensureIndexes(db);
  await MongoKeyHistoryStore.ensureIndexes(db);
  return { hosts: new MongoHostStore(db), keys: new MongoKeyHistoryStore(db, options) };
}
