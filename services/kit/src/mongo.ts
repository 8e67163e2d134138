import { type Db, MongoBulkWriteError, MongoClient, MongoServerError, MongoServerSelectionError } from "mongodb";
import { maskUrl } from "./config";

/** True for a unique-index violation (E11000), the signal of a lost race. */
export function isDuplicateKeyError(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}

/** True for an unordered bulk write that failed only where a document with the key already existed. */
export function isOnlyDuplicateKeyErrors(err: unknown): boolean {
  if (!(err instanceof MongoBulkWriteError)) return false;
  const errors = [err.writeErrors].flat();
  return errors.length > 0 && errors.every((e) => e.code === 11000);
}

/** Whether the server answers a ping within 2 s (readiness of a store on `db`). */
export async function pingMongo(db: Db): Promise<boolean> {
  try {
    await db.command({ ping: 1 }, { timeoutMS: 2000 });
    return true;
  } catch {
    return false;
  }
}

export interface MongoHandle {
  readonly client: MongoClient;
  readonly db: Db;
  /** Answers whether the server responds to a ping now. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** How long a start waits for MongoDB (and each later operation for a server) by default, ms. */
export const DEFAULT_MONGO_TIMEOUT_MS = 5000;

/**
 * Connects lazily-reconnecting: the driver retries on its own when the server
 * comes back, so a process survives a MongoDB restart without help. A server
 * that does not answer within `timeoutMs` fails the start with its address
 * (password masked) and the time waited, not the driver's error.
 */
export async function connectMongo(
  url: string,
  dbName: string,
  timeoutMs = DEFAULT_MONGO_TIMEOUT_MS,
): Promise<MongoHandle> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    retryWrites: false,
  });
  try {
    await client.connect();
  } catch (err) {
    await client.close().catch(() => undefined);
    if (err instanceof MongoServerSelectionError) {
      throw new Error(`MongoDB at ${maskUrl(url)} not reachable within ${timeoutMs / 1000} s`);
    }
    throw new Error(`MongoDB at ${maskUrl(url)}: ${(err as Error).message}`);
  }
  const db = client.db(dbName);
  return {
    client,
    db,
    ping: () => pingMongo(db),
    close: () => client.close(),
  };
}
