import type { Db } from "mongodb";
import type { HostStore, KeyHistoryStore } from "../domain/ports";
import { MemoryHostStore } from "./memory-host-store";
import { MemoryKeyHistoryStore } from "./memory-key-history-store";
import { MongoHostStore } from "./mongo-host-store";
import { MongoKeyHistoryStore } from "./mongo-key-history-store";

export interface PkiStores {
  readonly hosts: HostStore;
  readonly keys: KeyHistoryStore;
}

export function createMemoryStores(): PkiStores {
  return { hosts: new MemoryHostStore(), keys: new MemoryKeyHistoryStore() };
}

/** MongoDB stores; creates their indexes first (createIndex is a no-op when one exists). */
export async function createMongoStores(db: Db): Promise<PkiStores> {
  await MongoHostStore.ensureIndexes(db);
  await MongoKeyHistoryStore.ensureIndexes(db);
  return { hosts: new MongoHostStore(db), keys: new MongoKeyHistoryStore(db) };
}
