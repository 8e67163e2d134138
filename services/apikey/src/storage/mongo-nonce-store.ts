import { isDuplicateKeyError } from "@pkiserver/kit";
import type { Collection, Db } from "mongodb";
import type { NonceStore } from "../domain/ports";
import { nonceId } from "./memory-nonce-store";

export const NONCES_COLLECTION = "api_key_nonces";

interface NonceDoc {
  _id: string;
  expiresAt: Date;
}

/**
 * Creates the TTL index where the server has them. FerretDB may refuse or
 * ignore it; the periodic purge covers that case, so a refusal is reported,
 * not fatal.
 */
export async function ensureNonceIndexes(db: Db): Promise<{ ttl: boolean }> {
  try {
    await db
      .collection<NonceDoc>(NONCES_COLLECTION)
      .createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0, name: "expires_ttl" });
    return { ttl: true };
  } catch {
    return { ttl: false };
  }
}

/** The nonce's `_id` is the arbiter: of concurrent inserts of one nonce, every replica's but one fails. */
export class MongoNonceStore implements NonceStore {
  private readonly nonces: Collection<NonceDoc>;

  constructor(db: Db) {
    this.nonces = db.collection<NonceDoc>(NONCES_COLLECTION);
  }

  async consume(apiKeyId: string, nonce: string, now: number, expiresAt: number): Promise<boolean> {
    const _id = nonceId(apiKeyId, nonce);
    if (await this.tryInsert(_id, expiresAt)) return true;
    // A record the purge has not reached yet must not refuse a nonce whose
    // time is over; remove it and let the insert decide again.
    await this.nonces.deleteOne({ _id, expiresAt: { $lte: new Date(now) } });
    return this.tryInsert(_id, expiresAt);
  }

  private async tryInsert(_id: string, expiresAt: number): Promise<boolean> {
    try {
      await this.nonces.insertOne({ _id, expiresAt: new Date(expiresAt) });
      return true;
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
  }

  async purgeExpired(now: number): Promise<number> {
    const res = await this.nonces.deleteMany({ expiresAt: { $lte: new Date(now) } });
    return res.deletedCount;
  }
}
