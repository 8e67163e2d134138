import { GroupCommit, isDuplicateKeyError, isOnlyDuplicateKeyErrors, pingMongo, type Scope } from "@pkiserver/kit";
import type { Collection, Db } from "mongodb";
import type { CapMark, KeySessionSelection, Session } from "../domain/entities";
import {
  accessTokensExpireAt,
  coveredByMark,
  credentialLimitShortens,
  isLive,
  isSelected,
  newestFirst,
  RevokeReason,
} from "../domain/entities";
import type { RotateResult, SessionStore } from "../domain/ports";

interface SessionDoc {
  _id: string;
  apiKeyId: string;
  /** Absent on sessions stored before families existed: such a session is a family of its own. */
  familyId?: string;
  name: string | null;
  scope: string[];
  ipAddr: string | null;
  accessLifetime: number;
  createdAt: number;
  expiresAt: number;
  generation: number;
  refreshHash: string;
  rotatedAt: number | null;
  revokedAt: number | null;
  revokeReason: string | null;
  /** Absent on sessions stored before key rotation existed: they read as generation 0. */
  credentialGeneration?: number;
  /** Set once the credential that opened the session was rotated away. */
  credentialExpiresAt?: number;
  /**
   * Set on a session the cap closed under its key's cap mark, which stands
   * for it in the lists of revocations. Sessions the cap closed before marks
   * existed lack it: those are still listed one by one.
   */
  capMarked?: true;
  /** For the TTL index: expiresAt plus the grace during which an expired token still reads as expired. */
  purgeAt: Date;
}

/** A refresh hash a rotation spent, kept while the token it stood for could still be presented. */
interface SpentDoc {
  /** The hash: SHA-256 of a token that names its session, so unique across sessions. */
  _id: string;
  sessionId: string;
  expiresAt: number;
  purgeAt: Date;
}

/** The mark of a revoked family, kept while any of its sessions could have been live. */
interface FamilyDoc {
  _id: string;
  revokedAt: number;
  expiresAt: number;
  purgeAt: Date;
}

/** A key's cap mark: the newest session the cap closed, as one string that sorts as (createdAt, id) do. */
interface CapMarkDoc {
  /** The API key id. */
  _id: string;
  /** `markOf`: raised with $max only. */
  mark: string;
  /** When the last access token of a session the mark covers expires; raised with $max only. */
  tokensExpireAt: number;
  purgeAt: Date;
}

/** Revocations after which a replica moves revoked sessions out of the live collection. */
const MOVE_AFTER_REVOCATIONS = 64;
/** Revoked sessions moved per round trip. */
const MOVE_BATCH = 500;

/** Digits of a createdAt in a mark: ms since the epoch stay within 15 digits until the year 33658. */
const MARK_TIME_DIGITS = 15;

/**
 * (createdAt, id) as one string whose order (binary, as the server compares
 * strings) is theirs: createdAt zero-padded, then ":" and the id (session ids
 * are base64url, without ":").
 */
function markOf(s: Pick<Session, "createdAt" | "id">): string {
  return `${String(s.createdAt).padStart(MARK_TIME_DIGITS, "0")}:${s.id}`;
}

function toCapMark(d: CapMarkDoc): CapMark {
  return {
    apiKeyId: d._id,
    createdAt: Number(d.mark.slice(0, MARK_TIME_DIGITS)),
    sessionId: d.mark.slice(MARK_TIME_DIGITS + 1),
    tokensExpireAt: d.tokensExpireAt,
  };
}

function toSession(d: SessionDoc): Session {
  return {
    id: d._id,
    apiKeyId: d.apiKeyId,
    familyId: d.familyId ?? d._id,
    ...(d.name === null ? {} : { name: d.name }),
    scope: d.scope as Scope[],
    ...(d.ipAddr === null ? {} : { ipAddr: d.ipAddr }),
    accessLifetime: d.accessLifetime,
    createdAt: d.createdAt,
    expiresAt: d.expiresAt,
    generation: d.generation,
    refreshHash: d.refreshHash,
    ...(d.rotatedAt === null ? {} : { rotatedAt: d.rotatedAt }),
    ...(d.revokedAt === null ? {} : { revokedAt: d.revokedAt }),
    ...(d.revokeReason === null ? {} : { revokeReason: d.revokeReason }),
    ...(d.credentialGeneration == null ? {} : { credentialGeneration: d.credentialGeneration }),
    ...(d.credentialExpiresAt == null ? {} : { credentialExpiresAt: d.credentialExpiresAt }),
  };
}

/** Creates one index, or reports that the server refused it (FerretDB 1.x has no TTL indexes). */
async function tryIndex(create: () => Promise<string>): Promise<boolean> {
  try {
    await create();
    return true;
  } catch {
    return false;
  }
}

/** What one cap pass closed, the sessions of the opens that share it, and whether one reported it yet. */
interface CapPass {
  readonly closed: Session[];
  readonly opens: ReadonlySet<string>;
  reported: boolean;
}

/** An open waiting for its key's cap pass. */
interface CapOpen {
  readonly sessionId: string;
  readonly maxLivePerKey: number;
  readonly now: number;
}

/**
 * Sessions in MongoDB (or FerretDB). Every write is one conditional
 * single-document update, so replicas need no transactions: a refresh hash
 * is spent by the one update whose filter still finds it.
 *
 * A grant reads only the key's live sessions: `auth_sessions_live` indexes
 * (apiKeyId, revokedAt, expiresAt), so the query for unrevoked, unexpired
 * sessions of a key skips its closed ones. Spent refresh hashes live in a
 * collection of their own, one small document per rotation, removed by a TTL
 * index (and by the periodic purge where the server has no TTL indexes).
 *
 * Cap marks (`<collection>_cap_marks`, one document per key) keep "no live
 * session of a key is at or before its mark" across replicas without
 * transactions, by writing first and checking after on both sides: the cap
 * raises the mark, then reads the key's live sessions and closes those at or
 * before it; an open inserts its session, then reads the mark and closes its
 * own session if it is at or before it. Either the cap's read comes after the
 * insert and closes the new session, or it came before, so the mark was
 * raised before the insert and the open's read finds it. Within a replica the
 * opens of one key that come while a cap pass runs share the next pass, which
 * starts after their inserts, so each session is closed once, not by every
 * open that saw it.
 *
 * Revoked sessions leave the sessions collection for `<collection>_ended`:
 * a revocation marks the session in place (the one conditional update that
 * decides it), and every MOVE_AFTER_REVOCATIONS revocations (and at each
 * purge) the replica copies the revoked ones over and then deletes them
 * here. A revoked session never changes again, so a copy is final and a
 * move repeated by another replica or after a crash is harmless. The live
 * collection so holds a key's live sessions and only the latest few revoked
 * ones: servers that filter a whole collection in their own process
 * (FerretDB; on SQLite it pushes down nothing but `_id`) scan that, not
 * every session a key ever had. Reads by id look here first, then there.
 */
export class MongoSessionStore implements SessionStore {
  private constructor(
    private readonly db: Db,
    private readonly col: Collection<SessionDoc>,
    private readonly spent: Collection<SpentDoc>,
    private readonly families: Collection<FamilyDoc>,
    private readonly marks: Collection<CapMarkDoc>,
    private readonly ended: Collection<SessionDoc>,
    private readonly purgeGraceMs: number,
  ) {}

  /** Per key with opens under way: its cap passes, one at a time, and how many opens wait on them. */
  private readonly capSlots = new Map<string, { passes: GroupCommit<CapOpen, CapPass>; waiting: number }>();
  /** Revocations by this replica since its last move. */
  private revokedSinceMove = 0;
  /** The move under way, if any. */
  private moving: Promise<void> | undefined;

  /**
   * `collection` names the sessions collection; spent hashes, family marks,
   * cap marks and revoked sessions go to `<collection>_spent`,
   * `<collection>_revoked_families`, `<collection>_cap_marks` and `<collection>_ended`.
   */
  static async create(db: Db, opts: { purgeGraceMs: number; collection?: string }): Promise<MongoSessionStore> {
    const name = opts.collection ?? "auth_sessions";
    const col = db.collection<SessionDoc>(name);
    const spent = db.collection<SpentDoc>(`${name}_spent`);
    const families = db.collection<FamilyDoc>(`${name}_revoked_families`);
    const marks = db.collection<CapMarkDoc>(`${name}_cap_marks`);
    const ended = db.collection<SessionDoc>(`${name}_ended`);
    // One createIndex per index: FerretDB drops the connection when a
    // multi-index createIndexes names indexes that already exist.
    await col.createIndex({ apiKeyId: 1, revokedAt: 1, expiresAt: 1 }, { name: "auth_sessions_live" });
    await col.createIndex({ familyId: 1 }, { name: "auth_sessions_family" });
    await col.createIndex({ revokedAt: 1 }, { name: "auth_sessions_revoked" });
    await col.createIndex({ rotatedAt: 1 }, { name: "auth_sessions_rotated" });
    await col.createIndex({ expiresAt: 1 }, { name: "auth_sessions_expiry" });
    await col.createIndex({ credentialExpiresAt: 1 }, { name: "auth_sessions_credential_expiry" });
    // The live index above serves every per-key query the by-key index did.
    await col.dropIndex("auth_sessions_by_key").catch(() => undefined);
    await spent.createIndex({ expiresAt: 1 }, { name: "auth_spent_expiry" });
    await families.createIndex({ expiresAt: 1 }, { name: "auth_families_expiry" });
    await marks.createIndex({ tokensExpireAt: 1 }, { name: "auth_cap_marks_expiry" });
    await ended.createIndex({ revokedAt: 1 }, { name: "auth_ended_revoked" });
    await ended.createIndex({ expiresAt: 1 }, { name: "auth_ended_expiry" });
    // Servers without TTL indexes rely on the periodic purge alone.
    await tryIndex(() => col.createIndex({ purgeAt: 1 }, { name: "auth_sessions_ttl", expireAfterSeconds: 0 }));
    await tryIndex(() => spent.createIndex({ purgeAt: 1 }, { name: "auth_spent_ttl", expireAfterSeconds: 0 }));
    await tryIndex(() => families.createIndex({ purgeAt: 1 }, { name: "auth_families_ttl", expireAfterSeconds: 0 }));
    await tryIndex(() => marks.createIndex({ purgeAt: 1 }, { name: "auth_cap_marks_ttl", expireAfterSeconds: 0 }));
    await tryIndex(() => ended.createIndex({ purgeAt: 1 }, { name: "auth_ended_ttl", expireAfterSeconds: 0 }));
    return new MongoSessionStore(db, col, spent, families, marks, ended, opts.purgeGraceMs);
  }

  private purgeAt(expiresAt: number): Date {
    return new Date(expiresAt + this.purgeGraceMs);
  }

  private liveFilter(apiKeyId: string, now: number) {
    return { apiKeyId, revokedAt: null, expiresAt: { $gt: now } };
  }

  private async liveOf(apiKeyId: string, now: number): Promise<Session[]> {
    const docs = await this.col.find(this.liveFilter(apiKeyId, now), { hint: "auth_sessions_live" }).toArray();
    // Sorted here, not by the server, so ties order exactly as newestFirst says.
    return docs.map(toSession).sort(newestFirst);
  }

  private async revokeIfLive(id: string, reason: string, now: number, capMarked?: true): Promise<Session | undefined> {
    const doc = await this.col.findOneAndUpdate(
      { _id: id, revokedAt: null },
      { $set: { revokedAt: now, revokeReason: reason, ...(capMarked ? { capMarked } : {}) } },
      { returnDocument: "after" },
    );
    if (!doc) return undefined;
    if (++this.revokedSinceMove >= MOVE_AFTER_REVOCATIONS && this.moving === undefined) {
      // In the background: the revocation is complete without it. A failed move is left
      // where it is, still revoked, for the next one or the purge.
      this.moveEnded().catch(() => undefined);
    }
    return toSession(doc);
  }

  /** The move under way, or a new one: one at a time per replica. */
  private moveEnded(): Promise<void> {
    this.revokedSinceMove = 0;
    this.moving ??= this.moveAll().finally(() => {
      this.moving = undefined;
    });
    return this.moving;
  }

  /** Moves the revoked sessions still in the live collection to the ended one (copy first, then delete). */
  private async moveAll(): Promise<void> {
    for (;;) {
      const docs = await this.col.find({ revokedAt: { $ne: null } }, { limit: MOVE_BATCH }).toArray();
      if (docs.length === 0) return;
      try {
        // Inserts, not upserts: a revoked session never changes, so a copy already there (another
        // mover's, or one whose delete was cut short) is this one. FerretDB scans the whole
        // collection for each upsert's filter.
        await this.ended.insertMany(docs, { ordered: false });
      } catch (err) {
        if (!isOnlyDuplicateKeyErrors(err)) throw err;
      }
      await this.col.deleteMany({ _id: { $in: docs.map((d) => d._id) }, revokedAt: { $ne: null } });
      if (docs.length < MOVE_BATCH) return;
    }
  }

  /** A session by id, live or ended. */
  private async findById(id: string): Promise<SessionDoc | null> {
    return (await this.col.findOne({ _id: id })) ?? (await this.ended.findOne({ _id: id }));
  }

  async open(session: Session, maxLivePerKey: number, now: number): Promise<Session[]> {
    await this.col.insertOne({
      _id: session.id,
      apiKeyId: session.apiKeyId,
      familyId: session.familyId,
      name: session.name ?? null,
      scope: session.scope,
      ipAddr: session.ipAddr ?? null,
      accessLifetime: session.accessLifetime,
      createdAt: session.createdAt,
      expiresAt: session.expiresAt,
      generation: session.generation,
      refreshHash: session.refreshHash,
      rotatedAt: session.rotatedAt ?? null,
      revokedAt: null,
      revokeReason: null,
      ...(session.credentialGeneration === undefined ? {} : { credentialGeneration: session.credentialGeneration }),
      ...(session.credentialExpiresAt === undefined ? {} : { credentialExpiresAt: session.credentialExpiresAt }),
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
    const pass = await this.capPass(session.apiKeyId, session.id, maxLivePerKey, now);
    // Its own session closed (refused) to each open; the others the pass closed to the first open
    // that reads it, so each is reported once.
    const own = pass.closed.find((c) => c.id === session.id);
    if (own) closed.push(own);
    if (!pass.reported) {
      pass.reported = true;
      closed.push(...pass.closed.filter((c) => !pass.opens.has(c.id)));
    }
    return closed;
  }

  /**
   * The key's next cap pass: the opens of one key that come while a pass runs share the next
   * one, which starts after all of them have inserted their sessions. Each concurrent open
   * reading the key's sessions and closing those the mark covers made every open try to close
   * the same sessions again (at 50 concurrent grants of one key, 11 conditional updates a grant
   * where one succeeds), so grants fell as connections rose.
   */
  private async capPass(apiKeyId: string, sessionId: string, maxLivePerKey: number, now: number): Promise<CapPass> {
    let slot = this.capSlots.get(apiKeyId);
    if (slot === undefined) {
      const passes = new GroupCommit<CapOpen, CapPass>(async (opens) => {
        // The first open's clock and cap, as when each open ran its own pass.
        const first = opens[0] as CapOpen;
        const done = await this.enforceCap(apiKeyId, first.maxLivePerKey, first.now);
        const pass: CapPass = { closed: done.closed, opens: new Set(opens.map((o) => o.sessionId)), reported: false };
        return opens.map(() => pass);
      });
      slot = { passes, waiting: 0 };
      this.capSlots.set(apiKeyId, slot);
    }
    slot.waiting++;
    try {
      return await slot.passes.add({ sessionId, maxLivePerKey, now });
    } finally {
      if (--slot.waiting === 0) this.capSlots.delete(apiKeyId);
    }
  }

  /**
   * Keeps the key at its cap: raises the mark past the sessions over it, then reads the key's
   * live sessions again and closes those at or before the mark (see the class comment).
   */
  private async enforceCap(apiKeyId: string, maxLivePerKey: number, now: number): Promise<{ closed: Session[] }> {
    const closed: Session[] = [];
    let live = await this.liveOf(apiKeyId, now);
    const over = live.slice(maxLivePerKey);
    const [newestOver] = over;
    let markDoc: CapMarkDoc | null;
    if (newestOver !== undefined) {
      // The mark first, then the key's live sessions are read again (see the class comment).
      const until = Math.max(...over.map(accessTokensExpireAt));
      markDoc = await this.raiseCapMark(apiKeyId, markOf(newestOver), until);
      live = await this.liveOf(apiKeyId, now);
    } else {
      // Read after the inserts: a mark another replica raised past a new session is found here.
      markDoc = await this.marks.findOne({ _id: apiKeyId });
    }
    if (markDoc === null) return { closed };
    const mark = toCapMark(markDoc);
    let until = 0;
    for (const s of live) {
      if (!coveredByMark(s, mark)) continue;
      const r = await this.revokeIfLive(s.id, RevokeReason.sessionLimit, now, true);
      if (!r) continue;
      closed.push(r);
      until = Math.max(until, accessTokensExpireAt(r));
    }
    // Read from the closed sessions themselves (a rotation may have come in since they were listed).
    if (until > mark.tokensExpireAt) await this.raiseCapMark(apiKeyId, markDoc.mark, until);
    return { closed };
  }

  /** Raises the key's mark to `mark` and its end to `tokensExpireAt`, each only if higher; returns the mark now. */
  private async raiseCapMark(apiKeyId: string, mark: string, tokensExpireAt: number): Promise<CapMarkDoc | null> {
    const update = { $max: { mark, tokensExpireAt, purgeAt: this.purgeAt(tokensExpireAt) } };
    try {
      return await this.marks.findOneAndUpdate({ _id: apiKeyId }, update, { upsert: true, returnDocument: "after" });
    } catch (err) {
      // Two replicas' upserts raced: the document exists now, so the update applies to it.
      if (!isDuplicateKeyError(err)) throw err;
      return this.marks.findOneAndUpdate({ _id: apiKeyId }, update, { returnDocument: "after" });
    }
  }

  async capMark(apiKeyId: string): Promise<CapMark | undefined> {
    const doc = await this.marks.findOne({ _id: apiKeyId });
    return doc === null ? undefined : toCapMark(doc);
  }

  async listCapMarks(now: number): Promise<CapMark[]> {
    return (await this.marks.find({ tokensExpireAt: { $gt: now } }).toArray()).map(toCapMark);
  }

  async get(id: string): Promise<Session | undefined> {
    const doc = await this.findById(id);
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
      // Recorded before the hash is replaced, so every caller that loses the
      // race below already finds it spent. Kept while the token could be
      // presented: at most until the expiry this rotation sets.
      await this.recordSpent(presentedHash, id, next.expiresAt);
      // The filter on the hash makes this the only update that can spend it;
      // every rotation writes a fresh random hash, so the counters read above are still current when it matches.
      const updated = await this.col.findOneAndUpdate(
        { _id: id, refreshHash: presentedHash, revokedAt: null, expiresAt: { $gt: now } },
        {
          $set: {
            refreshHash: next.refreshHash,
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
    const current = await this.findById(id);
    if (!current) return { kind: "failed", session: undefined };
    const session = toSession(current);
    if (await this.wasSpent(id, presentedHash)) return { kind: "reused", session };
    return { kind: "failed", session };
  }

  private async recordSpent(hash: string, sessionId: string, expiresAt: number): Promise<void> {
    try {
      await this.spent.insertOne({ _id: hash, sessionId, expiresAt, purgeAt: this.purgeAt(expiresAt) });
    } catch (err) {
      // A concurrent rotation with the same hash recorded it first.
      if (!isDuplicateKeyError(err)) throw err;
    }
  }

  async wasSpent(id: string, hash: string): Promise<boolean> {
    return (await this.spent.findOne({ _id: hash, sessionId: id }, { projection: { _id: 1 } })) !== null;
  }

  async revoke(id: string, reason: string, now: number): Promise<Session | undefined> {
    return this.revokeIfLive(id, reason, now);
  }

  async revokeFamily(familyId: string, reason: string, now: number): Promise<Session[]> {
    try {
      await this.families.updateOne(
        { _id: familyId },
        { $setOnInsert: { revokedAt: now, expiresAt: now, purgeAt: this.purgeAt(now) } },
        { upsert: true },
      );
    } catch (err) {
      // Two replicas' upserts raced; the other one wrote the mark.
      if (!isDuplicateKeyError(err)) throw err;
    }
    // Sessions stored before families existed have no familyId; such a family is one session.
    const members = (
      await this.col
        .find({ $or: [{ familyId }, { _id: familyId }], revokedAt: null, expiresAt: { $gt: now } })
        .toArray()
    ).map(toSession);
    const keepUntil = Math.max(now, ...members.map((s) => s.expiresAt));
    if (keepUntil > now) {
      await this.families.updateOne(
        { _id: familyId },
        { $max: { expiresAt: keepUntil, purgeAt: this.purgeAt(keepUntil) } },
      );
    }
    const out: Session[] = [];
    for (const s of members) {
      const r = await this.revokeIfLive(s.id, reason, now);
      if (r) out.push(r);
    }
    return out;
  }

  async isFamilyRevoked(familyId: string): Promise<boolean> {
    return (await this.families.findOne({ _id: familyId }, { projection: { _id: 1 } })) !== null;
  }

  async revokeForKey(apiKeyId: string, reason: string, now: number, which: KeySessionSelection): Promise<Session[]> {
    const out: Session[] = [];
    for (const s of await this.liveOf(apiKeyId, now)) {
      if (!isSelected(s, which)) continue;
      const r = await this.revokeIfLive(s.id, reason, now);
      if (r) out.push(r);
    }
    return out;
  }

  async limitCredential(apiKeyId: string, upToGeneration: number, expiresAt: number, now: number): Promise<void> {
    for (const s of await this.liveOf(apiKeyId, now)) {
      if (!credentialLimitShortens(s, upToGeneration, expiresAt)) continue;
      // Conditional on the expiry read, so a concurrent earlier one is never pushed back.
      await this.col.updateOne(
        {
          _id: s.id,
          revokedAt: null,
          credentialExpiresAt: s.credentialExpiresAt === undefined ? { $exists: false } : s.credentialExpiresAt,
        },
        { $set: { credentialExpiresAt: expiresAt } },
      );
    }
  }

  async listCredentialExpired(now: number, limit: number): Promise<Session[]> {
    const docs = await this.col
      .find(
        { credentialExpiresAt: { $lte: now }, revokedAt: null, expiresAt: { $gt: now } },
        { hint: "auth_sessions_credential_expiry", limit },
      )
      .toArray();
    return docs.map(toSession);
  }

  async listLive(apiKeyId: string, now: number): Promise<Session[]> {
    return this.liveOf(apiKeyId, now);
  }

  async newestCreatedAt(apiKeyId: string, now: number): Promise<number | undefined> {
    // Only the newest one's createdAt comes back, not the key's live sessions.
    const [doc] = await this.col
      .find(this.liveFilter(apiKeyId, now), {
        hint: "auth_sessions_live",
        sort: { createdAt: -1 },
        limit: 1,
        projection: { _id: 0, createdAt: 1 },
      })
      .toArray();
    return doc?.createdAt;
  }

  async listRevokedSince(since: number): Promise<Session[]> {
    // Those the cap closed are covered by their key's cap mark. A session being moved may be in both.
    const filter = { revokedAt: { $gte: since }, capMarked: { $ne: true as const } };
    const [live, ended] = await Promise.all([this.col.find(filter).toArray(), this.ended.find(filter).toArray()]);
    const byId = new Map<string, SessionDoc>();
    for (const d of [...ended, ...live]) byId.set(d._id, d);
    return [...byId.values()].map(toSession);
  }

  async listRotatedSince(since: number): Promise<Session[]> {
    return (await this.col.find({ rotatedAt: { $gte: since }, revokedAt: null }).toArray()).map(toSession);
  }

  async purgeExpired(before: number): Promise<number> {
    await this.spent.deleteMany({ expiresAt: { $lt: before } });
    await this.families.deleteMany({ expiresAt: { $lt: before } });
    await this.marks.deleteMany({ tokensExpireAt: { $lt: before } });
    // What this replica's moves left behind (another replica's, or one cut short) goes first.
    await this.moveEnded();
    const ended = (await this.ended.deleteMany({ expiresAt: { $lt: before } })).deletedCount;
    return ended + (await this.col.deleteMany({ expiresAt: { $lt: before } })).deletedCount;
  }

  async isReady(): Promise<boolean> {
    return pingMongo(this.db);
  }
}
