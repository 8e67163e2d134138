import { type Db, MongoClient, MongoServerError } from "mongodb";

/** True for a unique-index violation (E11000), the signal of a lost race. */
export function isDuplicateKeyError(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
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

/**
 * Connects lazily-reconnecting: the driver retries on its own when the server
 * comes back, so a process survives a MongoDB restart without help.
 */
export async function connectMongo(url: string, dbName: string): Promise<MongoHandle> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 5000,
    connectTimeoutMS: 5000,
    retryWrites: false,
  });
  await client.connect();
  const db = client.db(dbName);
  return {
    client,
    db,
    ping: () => pingMongo(db),
    close: () => client.close(),
  };
}
