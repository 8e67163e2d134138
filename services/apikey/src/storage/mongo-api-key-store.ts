import { AppError, isDuplicateKeyError, pingMongo } from "@pkiserver/kit";
import type { Collection, Db, Filter } from "mongodb";
import { type ApiKeyRecord, type ApiKeyType, type KeyRateLimits, RATE_LIMIT_TIERS } from "../domain/entities";
import type { ApiKeyGuard, ApiKeyPatch, ApiKeyStore, CredentialRotation } from "../domain/ports";

export const API_KEYS_COLLECTION = "api_keys";

/**
 * `slot` is what makes the key limit race-safe: each key holds one of the
 * slots 0..limit-1 under a unique index, so a full set of slots refuses any
 * further insert whichever replica makes it. A counter document updated with
 * a conditional `$inc` would need an atomic findAndModify, which FerretDB 1.x
 * does not give (it reads, then writes); unique indexes it does enforce.
 */
interface ApiKeyDoc {
  _id: string;
  slot: number;
  name: string;
  enabled: boolean;
  maxScope: string[];
  type: ApiKeyType;
  sealedSecret?: string;
  clientPublicKey?: string;
  createDate: number;
  /** Absent on keys never rotated. */
  credentialGeneration?: number;
  previousSealedSecret?: string;
  previousClientPublicKey?: string;
  previousCredentialExpiresAt?: number;
  rateLimits?: KeyRateLimits;
}

/** The credential fields a rotation rewrites: each is set or removed. */
const CREDENTIAL_FIELDS = [
  "sealedSecret",
  "clientPublicKey",
  "previousSealedSecret",
  "previousClientPublicKey",
] as const;

/** Creates the indexes; safe to run on every start and from several replicas. */
export async function ensureApiKeyIndexes(db: Db): Promise<void> {
  await db.collection<ApiKeyDoc>(API_KEYS_COLLECTION).createIndex({ slot: 1 }, { unique: true, name: "slot_unique" });
}

/** Full passes over the free slots before giving up; each pass re-reads which are taken. */
const INSERT_ROUNDS = 3;

export class MongoApiKeyStore implements ApiKeyStore {
  private readonly keys: Collection<ApiKeyDoc>;

  constructor(private readonly db: Db) {
    this.keys = db.collection<ApiKeyDoc>(API_KEYS_COLLECTION);
  }

  async insertFirst(record: ApiKeyRecord): Promise<void> {
    if (await this.keys.findOne({}, { projection: { _id: 1 } })) throw new AppError("apikey.first_key_exists");
    // Concurrent first calls all aim at slot 0: the unique index lets one through.
    try {
      await this.keys.insertOne(toDoc(record, 0));
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new AppError("apikey.first_key_exists");
      throw err;
    }
  }

  async insert(record: ApiKeyRecord, limit: number): Promise<void> {
    for (let round = 0; round < INSERT_ROUNDS; round++) {
      const taken = new Set(
        (await this.keys.find({}, { projection: { slot: 1 } }).toArray()).map((d) => d.slot as number),
      );
      const free = Array.from({ length: limit }, (_, i) => i).filter((i) => !taken.has(i));
      if (free.length === 0) break;
      for (const slot of free) {
        try {
          await this.keys.insertOne(toDoc(record, slot));
          return;
        } catch (err) {
          if (!isDuplicateKeyError(err)) throw err;
        }
      }
    }
    throw new AppError("apikey.too_many");
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const doc = await this.keys.findOne({ _id: id });
    return doc ? fromDoc(doc) : undefined;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const docs = await this.keys.find({}).sort({ createDate: 1, _id: 1 }).toArray();
    return docs.map(fromDoc);
  }

  async update(
    id: string,
    patch: ApiKeyPatch,
    guard?: ApiKeyGuard,
  ): Promise<{ before: ApiKeyRecord; after: ApiKeyRecord } | undefined> {
    const set: Partial<ApiKeyDoc> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.enabled !== undefined) set.enabled = patch.enabled;
    if (patch.maxScope !== undefined) set.maxScope = [...patch.maxScope];
    if (patch.rateLimits) set.rateLimits = { ...patch.rateLimits };
    const clear = patch.rateLimits === null;
    const doc = await this.keys.findOneAndUpdate(
      filter(id, guard),
      clear ? { $set: set, $unset: { rateLimits: "" } } : { $set: set },
      { returnDocument: "before" },
    );
    if (!doc) return undefined;
    const before = fromDoc(doc);
    const { rateLimits: _dropped, ...kept } = doc;
    return { before, after: fromDoc({ ...(clear ? kept : doc), ...set }) };
  }

  async rotateCredential(
    id: string,
    rotation: CredentialRotation,
    guard: ApiKeyGuard,
  ): Promise<{ before: ApiKeyRecord; after: ApiKeyRecord } | undefined> {
    const set: Partial<ApiKeyDoc> = {
      credentialGeneration: rotation.fromGeneration + 1,
      previousCredentialExpiresAt: rotation.previousCredentialExpiresAt,
    };
    const unset: Partial<Record<(typeof CREDENTIAL_FIELDS)[number], "">> = {};
    for (const field of CREDENTIAL_FIELDS) {
      const value = rotation[field];
      if (value === undefined) unset[field] = "";
      else set[field] = value;
    }
    // Keys never rotated have no generation field: generation 0 matches its absence.
    const generation =
      rotation.fromGeneration === 0
        ? { credentialGeneration: { $in: [0, null] } }
        : { credentialGeneration: rotation.fromGeneration };
    const doc = await this.keys.findOneAndUpdate(
      { ...filter(id, guard), ...generation } as Filter<ApiKeyDoc>,
      Object.keys(unset).length === 0 ? { $set: set } : { $set: set, $unset: unset },
      { returnDocument: "before" },
    );
    if (!doc) return undefined;
    const afterDoc: ApiKeyDoc = { ...doc, ...set };
    for (const field of Object.keys(unset) as (keyof typeof unset)[]) delete afterDoc[field];
    return { before: fromDoc(doc), after: fromDoc(afterDoc) };
  }

  async delete(id: string, guard?: ApiKeyGuard): Promise<boolean> {
    const res = await this.keys.deleteOne(filter(id, guard));
    return res.deletedCount === 1;
  }

  async ping(): Promise<boolean> {
    return pingMongo(this.db);
  }
}

/**
 * The guard becomes part of the filter, so the check and the write are one
 * operation on the server. An array in an equality filter matches the whole
 * array, elements and order: the key's maxScope exactly as it was read.
 */
function filter(id: string, guard: ApiKeyGuard | undefined): Filter<ApiKeyDoc> {
  return guard === undefined ? { _id: id } : { _id: id, maxScope: [...guard.maxScope] };
}

function toDoc(r: ApiKeyRecord, slot: number): ApiKeyDoc {
  return {
    _id: r.id,
    slot,
    name: r.name,
    enabled: r.enabled,
    maxScope: [...r.maxScope],
    type: r.type,
    ...(r.sealedSecret === undefined ? {} : { sealedSecret: r.sealedSecret }),
    ...(r.clientPublicKey === undefined ? {} : { clientPublicKey: r.clientPublicKey }),
    createDate: r.createDate,
    ...(r.credentialGeneration === undefined ? {} : { credentialGeneration: r.credentialGeneration }),
    ...(r.previousSealedSecret === undefined ? {} : { previousSealedSecret: r.previousSealedSecret }),
    ...(r.previousClientPublicKey === undefined ? {} : { previousClientPublicKey: r.previousClientPublicKey }),
    ...(r.previousCredentialExpiresAt === undefined
      ? {}
      : { previousCredentialExpiresAt: r.previousCredentialExpiresAt }),
    ...(r.rateLimits === undefined ? {} : { rateLimits: { ...r.rateLimits } }),
  };
}

function fromDoc(d: ApiKeyDoc): ApiKeyRecord {
  return {
    id: d._id,
    name: d.name,
    enabled: d.enabled,
    // Stored scopes were parsed before they were written.
    maxScope: d.maxScope as ApiKeyRecord["maxScope"],
    type: d.type,
    ...(d.sealedSecret === undefined || d.sealedSecret === null ? {} : { sealedSecret: d.sealedSecret }),
    ...(d.clientPublicKey === undefined || d.clientPublicKey === null ? {} : { clientPublicKey: d.clientPublicKey }),
    createDate: d.createDate,
    ...(d.credentialGeneration == null ? {} : { credentialGeneration: d.credentialGeneration }),
    ...(d.previousSealedSecret == null ? {} : { previousSealedSecret: d.previousSealedSecret }),
    ...(d.previousClientPublicKey == null ? {} : { previousClientPublicKey: d.previousClientPublicKey }),
    ...(d.previousCredentialExpiresAt == null ? {} : { previousCredentialExpiresAt: d.previousCredentialExpiresAt }),
    ...(d.rateLimits == null ? {} : { rateLimits: rateLimitsOf(d.rateLimits) }),
  };
}

/** Only the known tiers of a stored document, whatever else it may hold. */
function rateLimitsOf(stored: KeyRateLimits): KeyRateLimits {
  const out: KeyRateLimits = {};
  for (const tier of RATE_LIMIT_TIERS) {
    const v = stored[tier];
    if (typeof v === "number") out[tier] = v;
  }
  return out;
}
