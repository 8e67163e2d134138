import type { AuditEventType } from "@pkiserver/contract";
import { isDuplicateKeyError, pingMongo } from "@pkiserver/kit";
import { LRUCache } from "lru-cache";
import type { Collection, Db, Filter, FindCursor } from "mongodb";
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

/** How many pagings may keep their query open between pages, and for how long unused. */
const OPEN_QUERIES_MAX = 16;
const OPEN_QUERY_IDLE_MS = 30_000;

/** A query left open where a page ended. */
interface OpenQuery {
  readonly cursor: FindCursor<AuditDoc>;
  /** Entries of `resumes` that lead to it; the cursor closes when the last goes, unless a page took it. */
  refs: number;
  taken: boolean;
}

/** Where a next page may start reading an open query: after `pending`, read already but not given out. */
interface Resume {
  readonly query: OpenQuery;
  readonly pending: readonly AuditDoc[];
}

export class MongoAuditStore implements AuditStore {
  private readonly events: Collection<AuditDoc>;
  /**
   * Queries left open where a full page ended, by filter, order and the
   * position the next page starts after. A paging that goes on (the export
   * reads every page in turn) reads on from its query instead of starting a
   * new one: one scan for a whole export on a server that cannot use a range
   * index (FerretDB), and the driver fetches the next batch only when a page
   * asks for it. Bounded in number and idle time; any other page starts a
   * query of its own, as every page did before.
   */
  private readonly resumes = new LRUCache<string, Resume>({
    max: OPEN_QUERIES_MAX,
    ttl: OPEN_QUERY_IDLE_MS,
    ttlAutopurge: true,
    dispose: (r) => {
      r.query.refs--;
      if (r.query.refs === 0 && !r.query.taken) closeQuietly(r.query.cursor);
    },
  });

  constructor(
    private readonly db: Db,
    private readonly retentionMs: number,
  ) {
    this.events = db.collection<AuditDoc>(AUDIT_COLLECTION);
  }

  /** Closes the queries left open. */
  close(): void {
    this.resumes.clear();
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
    const query = JSON.stringify([order, filter.from, filter.to, filter.types, filter.apiKeyId]);
    const resume = after === undefined ? undefined : this.take(`${query}\n${after.time}\n${after.id}`);
    const docs: AuditDoc[] = [];
    let cursor: FindCursor<AuditDoc> | undefined;
    if (resume !== undefined) {
      cursor = resume.query.cursor;
      docs.push(...resume.pending.slice(0, limit));
      try {
        await readInto(cursor, docs, limit);
      } catch {
        // The open query failed (the server timed it out, say): the page is read anew.
        closeQuietly(cursor);
        cursor = undefined;
        docs.length = 0;
      }
    }
    if (cursor === undefined) {
      cursor = this.find(filter, order, after, limit);
      await readInto(cursor, docs, limit).catch((err: unknown) => {
        closeQuietly(cursor as FindCursor<AuditDoc>);
        throw err;
      });
    }
    this.keepOpen(cursor, docs, limit, query);
    return docs.map(fromDoc);
  }

  /** The resume at `key`, its query now this page's alone. */
  private take(key: string): Resume | undefined {
    const r = this.resumes.get(key);
    if (r === undefined) return undefined;
    r.query.taken = true;
    const keys: string[] = [];
    for (const [k, other] of this.resumes.entries()) if (other.query === r.query) keys.push(k);
    for (const k of keys) this.resumes.delete(k);
    return r;
  }

  /**
   * Leaves a full page's query open for the page after it: resumed after its
   * last event, or, for a caller that reads one event more than it gives out
   * (to know whether there is a next page), after the one before with the
   * last given again.
   */
  private keepOpen(cursor: FindCursor<AuditDoc>, docs: readonly AuditDoc[], limit: number, query: string): void {
    const last = docs[docs.length - 1];
    if (docs.length < limit || last === undefined) {
      closeQuietly(cursor);
      return;
    }
    const open: OpenQuery = { cursor, refs: 0, taken: false };
    const at = (d: AuditDoc) => `${query}\n${d.time}\n${d._id}`;
    const beforeLast = docs[docs.length - 2];
    const entries: [string, Resume][] = [[at(last), { query: open, pending: [] }]];
    if (beforeLast !== undefined) entries.push([at(beforeLast), { query: open, pending: [last] }]);
    for (const [k, r] of entries) {
      open.refs++;
      this.resumes.set(k, r);
    }
  }

  private find(
    filter: AuditFilter,
    order: AuditOrder,
    after: AuditPosition | undefined,
    limit: number,
  ): FindCursor<AuditDoc> {
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
    // No limit on the query, as later pages may read on; a batch is what one page takes.
    return this.events
      .find(and.length > 0 ? { $and: and } : {})
      .sort({ time: dir, _id: dir })
      .batchSize(limit + 1);
  }

  async purgeBefore(time: number): Promise<number> {
    const res = await this.events.deleteMany({ time: { $lt: time } });
    return res.deletedCount;
  }

  async ping(): Promise<boolean> {
    return pingMongo(this.db);
  }
}

/** Reads from `cursor` into `docs` until it holds `limit` or the cursor ends. */
async function readInto(cursor: FindCursor<AuditDoc>, docs: AuditDoc[], limit: number): Promise<void> {
  while (docs.length < limit) {
    const d = await cursor.next();
    if (d === null) return;
    docs.push(d);
  }
}

function closeQuietly(cursor: FindCursor<AuditDoc>): void {
  cursor.close().catch(() => undefined);
}

function fromDoc(d: AuditDoc): AuditEvent {
  const { _id, expiresAt: _kept, actor, ...fields } = d;
  return { id: _id, ...fields, actor: { ...actor } };
}
