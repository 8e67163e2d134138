import type { Scope } from "@pkiserver/kit";
import type { Collection, Db } from "mongodb";
import { isLive, newestFirst, PREVIOUS_HASHES_KEPT, RevokeReason, type Session } from "../domain/model";
import type { RotateResult, SessionStore } from "../domain/ports";

interface SessionDoc {
  _id: string;
  apiKeyId: string;
  name: string | null;
  scope: string[];
  ipAddr: string | null;
  accessLifetime: number;
  createdAt: number;
  expiresAt: number;
  generation: number;
  refreshHash: string;
  previousHashes: string[];
  rotatedAt: number | null;
  revokedAt: number | null;
  revokeReason: string | null;
  /** For the TTL index: expiresAt plus the grace during which an expired token still reads as expired. */
  purgeAt: Date;
}

function toSession(d: SessionDoc): Session {
  return {
    id: d._id,
    apiKeyId: d.apiKeyId,
    ...(d.name === null ? {} : { name: d.name }),
    scope: d.scope as Scope[],
    ...(d.ipAddr === null ? {} : { ipAddr: d.ipAddr }),
    accessLifetime: d.accessLifetime,
    createdAt: d.createdAt,
    expiresAt: d.expiresAt,
    generation: d.generation,
    refreshHash: d.refreshHash,
    previousHashes: d.previousHashes,
    ...(d.rotatedAt === null ? {} : { rotatedAt: d.rotatedAt }),
    ...(d.revokedAt === null ? {} : { revokedAt: d.revokedAt }),
    ...(d.revokeReason === null ? {} : { revokeReason: d.revokeReason }),
  };
}

/**
 * Sessions in MongoDB (or FerretDB). Every write is one conditional
 * single-document update, so replicas need no transactions: a refresh hash
 * is spent by the one update whose filter still finds it.
 */
export class MongoSessionStore implements SessionStore {
  private constructor(
    private readonly db: Db,
    private readonly col: Collection<SessionDoc>,
    private readonly purgeGraceMs: number,
  ) {}

  static async create(db: Db, opts: { purgeGraceMs: number; collection?: string }): Promise<MongoSessionStore> {
    const col = db.collection<SessionDoc>(opts.collection ?? "auth_sessions");
    // One createIndex per index: FerretDB drops the connection when a
    // multi-index createIndexes names indexes that already exist.
    await col.createIndex({ apiKeyId: 1, createdAt: -1 }, { name: "auth_sessions_by_key" });
    await col.createIndex({ revokedAt: 1 }, { name: "auth_sessions_revoked" });
    await col.createIndex({ rotatedAt: 1 }, { name: "auth_sessions_rotated" });
    await col.createIndex({ expiresAt: 1 }, { name: "auth_sessions_expiry" });
    try {
      await col.createIndex({ purgeAt: 1 }, { name: "auth_sessions_ttl", expireAfterSeconds: 0 });
    } catch {
      // Servers without TTL indexes rely on the periodic purge alone.
    }
    return new MongoSessionStore(db, col, opts.purgeGraceMs);
  }

  private purgeAt(expiresAt: number): Date {
    return new Date(expiresAt + this.purgeGraceMs);
  }

  private liveFilter(apiKeyId: string, now: number) {
    return { apiKeyId, revokedAt: null, expiresAt: { $gt: now } };
  }

  private async liveOf(apiKeyId: string, now: number): Promise<Session[]> {
    const docs = await this.col.find(this.liveFilter(apiKeyId, now)).toArray();
    // Sorted here, not by the server, so ties order exactly as newestFirst says.
    return docs.map(toSession).sort(newestFirst);
  }

  private async revokeIfLive(id: string, reason: string, now: number): Promise<Session | undefined> {
    const doc = await this.col.findOneAndUpdate(
      { _id: id, revokedAt: null },
      { $set: { revokedAt: now, revokeReason: reason } },
      { returnDocument: "after" },
    );
    return doc ? toSession(doc) : undefined;
  }

  async open(session: Session, maxLivePerKey: number, now: number): Promise<Session[]> {
    await this.col.insertOne({
      _id: session.id,
      apiKeyId: session.apiKeyId,
      name: session.name ?? null,
      scope: session.scope,
      ipAddr: session.ipAddr ?? null,
      accessLifetime: session.accessLifetime,
      createdAt: session.createdAt,
      expiresAt: session.expiresAt,
      generation: session.generation,
      refreshHash: session.refreshHash,
      previousHashes: session.previousHashes,
      rotatedAt: session.rotatedAt ?? null,
      revokedAt: null,
      revokeReason: null,
      purgeAt: this.purgeAt(session.expiresAt),
    });
    const closed: Session[] = [];
    if (session.name !== undefined) {
      const same = (await this.liveOf(session.apiKeyId, now)).filter((s) => s.name === session.name);
      for (const s of same.slice(1)) {
        const r = await this.revokeIfLive(s.id, RevokeReason.replaced, now);
        if (r) closed.push(r);
      }
    }
    for (const s of (await this.liveOf(session.apiKeyId, now)).slice(maxLivePerKey)) {
      const r = await this.revokeIfLive(s.id, RevokeReason.sessionLimit, now);
      if (r) closed.push(r);
    }
    return closed;
  }

  async get(id: string): Promise<Session | undefined> {
    const doc = await this.col.findOne({ _id: id });
    return doc ? toSession(doc) : undefined;
  }

  async rotate(
    id: string,
    presentedHash: string,
    next: { refreshHash: string; expiresAt: number },
    now: number,
  ): Promise<RotateResult> {
    const doc = await this.col.findOne({ _id: id });
    if (doc && doc.refreshHash === presentedHash && isLive(toSession(doc), now)) {
      // The filter on the hash makes this the only update that can spend it;
      // every rotation writes a fresh random hash, so the counters read above are still current when it matches.
      const updated = await this.col.findOneAndUpdate(
        { _id: id, refreshHash: presentedHash, revokedAt: null, expiresAt: { $gt: now } },
        {
          $set: {
            refreshHash: next.refreshHash,
            previousHashes: [...doc.previousHashes, presentedHash].slice(-PREVIOUS_HASHES_KEPT),
            generation: doc.generation + 1,
            expiresAt: next.expiresAt,
            rotatedAt: now,
            purgeAt: this.purgeAt(next.expiresAt),
          },
        },
        { returnDocument: "after" },
      );
      if (updated) return { kind: "rotated", session: toSession(updated) };
    }
    const current = await this.col.findOne({ _id: id });
    if (!current) return { kind: "failed", session: undefined };
    const session = toSession(current);
    if (session.previousHashes.includes(presentedHash)) return { kind: "reused", session };
    return { kind: "failed", session };
  }

  async revoke(id: string, reason: string, now: number): Promise<Session | undefined> {
    return this.revokeIfLive(id, reason, now);
  }

  async revokeForKey(
    apiKeyId: string,
    reason: string,
    now: number,
    createdUpTo: number,
    select?: (s: Session) => boolean,
  ): Promise<Session[]> {
    const out: Session[] = [];
    for (const s of await this.liveOf(apiKeyId, now)) {
      if (s.createdAt > createdUpTo || (select && !select(s))) continue;
      const r = await this.revokeIfLive(s.id, reason, now);
      if (r) out.push(r);
    }
    return out;
  }

  async listLive(apiKeyId: string, now: number): Promise<Session[]> {
    return this.liveOf(apiKeyId, now);
  }

  async listRevokedSince(since: number): Promise<Session[]> {
    return (await this.col.find({ revokedAt: { $gte: since } }).toArray()).map(toSession);
  }

  async listRotatedSince(since: number): Promise<Session[]> {
    return (await this.col.find({ rotatedAt: { $gte: since }, revokedAt: null }).toArray()).map(toSession);
  }

  async purgeExpired(before: number): Promise<number> {
    return (await this.col.deleteMany({ expiresAt: { $lt: before } })).deletedCount;
  }

  async isReady(): Promise<boolean> {
    try {
      await this.db.command({ ping: 1 }, { timeoutMS: 2000 });
      return true;
    } catch {
      return false;
    }
  }
}
