import type { AuditEventType } from "@pkiserver/contract";
import { isDuplicateKeyError, pingMongo } from "@pkiserver/kit";
import type { Collection, Db, Filter } from "mongodb";
import type { AuditEvent, AuditFilter, AuditOrder, AuditPosition } from "../domain/entities";
import type { AuditStore } from "../domain/ports";

export const AUDIT_COLLECTION = "audit_events";

interface AuditDoc {
  /** The event id: the unique index that makes recording idempotent. */
  _id: string;
  time: number;
  type: AuditEventType;
  outcome: "ok" | "denied";
  actor: { apiKeyId?: string; sessionId?: string; ip?: string };
  target: string;
  requestId?: string;
  details: Record<string, unknown>;
  /** When the TTL index may remove it; the retention at the time of recording. */
  expiresAt: Date;
}

/**
 * Indexes for the two orders, the filters, and retention. FerretDB 1.x has no
 * TTL index: a refusal is reported, and the periodic purge does the work.
 */
export async function ensureAuditIndexes(db: Db): Promise<{ ttl: boolean }> {
  const c = db.collection<AuditDoc>(AUDIT_COLLECTION);
  await c.createIndex({ time: 1, _id: 1 }, { name: "time_id" });
  await c.createIndex({ type: 1, time: 1 }, { name: "type_time" });
  await c.createIndex({ "actor.apiKeyId": 1, time: 1 }, { name: "actor_key_time" });
  await c.createIndex({ target: 1, time: 1 }, { name: "target_time" });
  try {
    await c.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0, name: "expires_ttl" });
    return { ttl: true };
  } catch {
    return { ttl: false };
  }
}

export class MongoAuditStore implements AuditStore {
  private readonly events: Collection<AuditDoc>;

  constructor(
    private readonly db: Db,
    private readonly retentionMs: number,
  ) {
    this.events = db.collection<AuditDoc>(AUDIT_COLLECTION);
  }

  async record(e: AuditEvent): Promise<boolean> {
    const doc: AuditDoc = {
      _id: e.id,
      time: e.time,
      type: e.type,
      outcome: e.outcome,
      actor: { ...e.actor },
      target: e.target,
      ...(e.requestId !== undefined ? { requestId: e.requestId } : {}),
      details: { ...e.details },
      expiresAt: new Date(e.time + this.retentionMs),
    };
    try {
      await this.events.insertOne(doc);
      return true;
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
  }

  async page(
    filter: AuditFilter,
    order: AuditOrder,
    after: AuditPosition | undefined,
    limit: number,
  ): Promise<AuditEvent[]> {
    const and: Filter<AuditDoc>[] = [];
    if (filter.from !== undefined) and.push({ time: { $gte: filter.from } });
    if (filter.to !== undefined) and.push({ time: { $lte: filter.to } });
    if (filter.types !== undefined) and.push({ type: { $in: [...filter.types] } });
    if (filter.apiKeyId !== undefined) {
      and.push({ $or: [{ "actor.apiKeyId": filter.apiKeyId }, { target: filter.apiKeyId }] });
    }
    if (after !== undefined) {
      const op = order === "oldest" ? "$gt" : "$lt";
      and.push({ $or: [{ time: { [op]: after.time } }, { time: after.time, _id: { [op]: after.id } }] });
    }
    const dir = order === "oldest" ? 1 : -1;
    const docs = await this.events
      .find(and.length > 0 ? { $and: and } : {})
      .sort({ time: dir, _id: dir })
      .limit(limit)
      .toArray();
    return docs.map(fromDoc);
  }

  async purgeBefore(time: number): Promise<number> {
    const res = await this.events.deleteMany({ time: { $lt: time } });
    return res.deletedCount;
  }

  async ping(): Promise<boolean> {
    return pingMongo(this.db);
  }
}

function fromDoc(d: AuditDoc): AuditEvent {
  const { _id, expiresAt: _kept, actor, ...fields } = d;
  return { id: _id, ...fields, actor: { ...actor } };
}
