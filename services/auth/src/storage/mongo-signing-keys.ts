import { isDuplicateKeyError } from "@pkiserver/kit";
import type { Collection, Db } from "mongodb";
import type { SigningKeyStore, StoredSigningKey } from "../domain/ports";

interface KeyDoc {
  _id: string;
  slot: string;
  publicJwk: string;
  sealedPrivateJwk: string;
  createdAt: number;
  verifyUntil: number;
}

function toKey(d: KeyDoc): StoredSigningKey {
  const { _id, ...fields } = d;
  return { kid: _id, ...fields };
}

/** Signing keys shared by every replica; the unique slot index settles which key a period uses. */
export class MongoSigningKeyStore implements SigningKeyStore {
  private constructor(private readonly col: Collection<KeyDoc>) {}

  static async create(db: Db, opts: { collection?: string } = {}): Promise<MongoSigningKeyStore> {
    const col = db.collection<KeyDoc>(opts.collection ?? "auth_signing_keys");
    // One createIndex per index (FerretDB mishandles a repeated multi-index createIndexes).
    await col.createIndex({ slot: 1 }, { name: "auth_signing_keys_slot", unique: true });
    await col.createIndex({ verifyUntil: 1 }, { name: "auth_signing_keys_expiry" });
    return new MongoSigningKeyStore(col);
  }

  async insertIfAbsent(key: StoredSigningKey): Promise<{ inserted: boolean; key: StoredSigningKey }> {
    try {
      await this.col.insertOne({
        _id: key.kid,
        slot: key.slot,
        publicJwk: key.publicJwk,
        sealedPrivateJwk: key.sealedPrivateJwk,
        createdAt: key.createdAt,
        verifyUntil: key.verifyUntil,
      });
      return { inserted: true, key: { ...key } };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const existing = await this.col.findOne({ slot: key.slot });
      if (!existing) throw err;
      return { inserted: false, key: toKey(existing) };
    }
  }

  async listVerifying(now: number): Promise<StoredSigningKey[]> {
    return (
      await this.col
        .find({ verifyUntil: { $gt: now } })
        .sort({ createdAt: 1 })
        .toArray()
    ).map(toKey);
  }

  async purgeExpired(now: number): Promise<number> {
    return (await this.col.deleteMany({ verifyUntil: { $lte: now } })).deletedCount;
  }
}
