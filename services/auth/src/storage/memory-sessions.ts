import { LRUCache } from "lru-cache";
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

/**
 * A copy of a stored session for a caller, which may change it freely: every
 * field is a primitive but the scope list (far cheaper than structuredClone,
 * which a grant would otherwise pay for each live session of its key).
 */
function copy(s: Session): Session {
  return { ...s, scope: [...s.scope] };
}

/** Adds `id` to the set kept under `key`. */
function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  const set = index.get(key);
  if (set) set.add(id);
  else index.set(key, new Set([id]));
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
}

/**
 * What is kept of a revoked session: what a later refresh (`75`, or reuse that
 * revokes its family), an introspection or a starting gateway's list of
 * revocations asks of it. Scope, name, address and credential fields are
 * dropped with the session; one class, so every one has the same compact shape.
 */
class Ended {
  constructor(
    readonly id: string,
    readonly apiKeyId: string,
    readonly familyId: string,
    readonly refreshHash: string,
    readonly generation: number,
    readonly accessLifetime: number,
    readonly createdAt: number,
    readonly rotatedAt: number | undefined,
    readonly expiresAt: number,
    readonly revokedAt: number,
    readonly revokeReason: string | undefined,
    /** When its last access token expires: a starting gateway must hear of it until then. */
    readonly tokensExpireAt: number,
  ) {}

  static of(s: Session, revokedAt: number, apiKeyId: string): Ended {
    return new Ended(
      s.id,
      apiKeyId,
      s.familyId,
      s.refreshHash,
      s.generation,
      s.accessLifetime,
      s.createdAt,
      s.rotatedAt,
      s.expiresAt,
      revokedAt,
      s.revokeReason,
      accessTokensExpireAt(s),
    );
  }

  /** The revoked session as the port returns it (no scope: nothing reads a revoked session's). */
  toSession(): Session {
    return {
      id: this.id,
      apiKeyId: this.apiKeyId,
      familyId: this.familyId,
      scope: [],
      accessLifetime: this.accessLifetime,
      createdAt: this.createdAt,
      expiresAt: this.expiresAt,
      generation: this.generation,
      refreshHash: this.refreshHash,
      ...(this.rotatedAt === undefined ? {} : { rotatedAt: this.rotatedAt }),
      revokedAt: this.revokedAt,
      ...(this.revokeReason === undefined ? {} : { revokeReason: this.revokeReason }),
    };
  }
}

/** Revoked sessions kept before the first sweep for ones no longer needed (then twice what a sweep leaves). */
const MIN_SWEEP_AT = 1024;
/**
 * Revoked sessions remembered past their access tokens (and sessions the cap
 * closed, at once) only so that their refresh tokens are answered as revoked
 * (`75`) rather than unknown (`76`): the newest this many, each until its
 * refresh token would have expired.
 */
export const MAX_FORGOTTEN_SESSIONS = 16_384;
/** Key ids shared by the revoked sessions kept (each request parsed its own copy); past this many, started afresh. */
const MAX_KEY_IDS = 1024;

/**
 * Sessions in process memory: the embedded default and unit tests. Per-key
 * and per-family indexes hold only unrevoked sessions, so a key's closed
 * sessions cost a grant nothing however many there are.
 *
 * Bounded by time: a revoked session is kept only as a small record (Ended),
 * and only while it still matters: until its last access token expires (a
 * starting gateway lists it until then), and while its family has an
 * unrevoked session (a spent refresh token of it must still revoke the
 * family); then it moves to a bounded list (the newest
 * MAX_FORGOTTEN_SESSIONS) that only answers its refresh token as revoked
 * (`75`) until that token would have expired, and is dropped at the latest
 * then. Past that bound, the refresh token of an older one is unknown (`76`):
 * refused either way. Sweeps run as revocations add up (amortised O(1) per
 * revocation) and with `purgeExpired`.
 *
 * A session the cap closes is covered by its key's cap mark (one per key),
 * which the starting gateways are given instead of each session: unless its
 * family has an unrevoked session, it goes straight to that bounded list.
 */
export class MemorySessionStore implements SessionStore {
  /** Unrevoked sessions (expired ones until purged). */
  private readonly byId = new Map<string, Session>();
  /** Revoked sessions still kept, in the order they were revoked. */
  private readonly ended = new Map<string, Ended>();
  /** Revoked sessions no token of which is valid any more, kept to answer their refresh tokens (bounded). */
  private readonly forgotten: LRUCache<string, Ended>;
  /** The number of revoked sessions at which the next sweep runs. */
  private sweepAt = MIN_SWEEP_AT;
  /** One string per key id for the revoked sessions kept. */
  private keyIds = new Map<string, string>();
  /** The latest time a call was made with, for sweeps started by `purgeExpired` (which is given a past time). */
  private latestNow = Number.NEGATIVE_INFINITY;
  /** Unrevoked sessions per key (expired ones are dropped when met). */
  private readonly unrevokedByKey = new Map<string, Set<string>>();
  /** Unrevoked sessions per family. */
  private readonly unrevokedByFamily = new Map<string, Set<string>>();
  /** Spent refresh hash → its session and how long it is kept. */
  private readonly spent = new Map<string, { sessionId: string; expiresAt: number }>();
  /** Revoked family → how long the mark is kept. */
  private readonly revokedFamilies = new Map<string, number>();
  /** Unrevoked sessions whose credential has an expiry, so the sweep does not scan every session. */
  private readonly withCredentialExpiry = new Set<string>();
  /** Per key, the newest session the cap closed (kept until no token it covers can be valid). */
  private readonly capMarks = new Map<string, CapMark>();

  constructor(options: { maxForgotten?: number } = {}) {
    this.forgotten = new LRUCache({ max: options.maxForgotten ?? MAX_FORGOTTEN_SESSIONS });
  }

  /** Calls `fn` with each live session of the key (the stored object, not a copy). */
  private eachLive(apiKeyId: string, now: number, fn: (s: Session) => void): void {
    const ids = this.unrevokedByKey.get(apiKeyId);
    if (!ids) return;
    for (const id of ids) {
      const s = this.byId.get(id);
      if (s && isLive(s, now)) fn(s);
      // An expired session never comes back: it leaves the index the first time it is met.
      else if (!s || s.expiresAt <= now) ids.delete(id);
    }
    if (ids.size === 0) this.unrevokedByKey.delete(apiKeyId);
  }

  private liveOf(apiKeyId: string, now: number): Session[] {
    const live: Session[] = [];
    this.eachLive(apiKeyId, now, (s) => live.push(s));
    return live.sort(newestFirst);
  }

  /** Ends a stored unrevoked session: it leaves the indexes, a small record stays. Returns it as revoked. */
  private markRevoked(stored: Session, reason: string, now: number): Session {
    // A new object rather than two properties added to the stored one: on node 20 adding a
    // property to an object made by a spread costs some 0.5 µs (Object.assign does not).
    const s: Session = Object.assign({}, stored, { revokedAt: now, revokeReason: reason });
    this.byId.delete(s.id);
    removeFrom(this.unrevokedByKey, s.apiKeyId, s.id);
    removeFrom(this.unrevokedByFamily, s.familyId, s.id);
    this.withCredentialExpiry.delete(s.id);
    const ended = Ended.of(s, now, this.keyId(s.apiKeyId));
    // Closed by the cap: its key's mark tells the gateways, so only a refresh
    // token still to answer (or a family to revoke on reuse) keeps it.
    if (reason === RevokeReason.sessionLimit && !this.unrevokedByFamily.has(s.familyId)) {
      if (s.expiresAt > now) this.forgotten.set(s.id, ended);
    } else {
      this.keepEnded(ended, now);
    }
    return s;
  }

  /** Raises the key's cap mark to `newest` (closed by the cap now), covering tokens until `until`. */
  private raiseCapMark(newest: Session, until: number): void {
    const cur = this.capMarks.get(newest.apiKeyId);
    if (cur === undefined || !coveredByMark(newest, cur)) {
      this.capMarks.set(newest.apiKeyId, {
        apiKeyId: newest.apiKeyId,
        createdAt: newest.createdAt,
        sessionId: newest.id,
        tokensExpireAt: Math.max(until, cur?.tokensExpireAt ?? until),
      });
    } else if (until > cur.tokensExpireAt) {
      cur.tokensExpireAt = until;
    }
  }

  private keyId(apiKeyId: string): string {
    const shared = this.keyIds.get(apiKeyId);
    if (shared !== undefined) return shared;
    if (this.keyIds.size >= MAX_KEY_IDS) this.keyIds = new Map();
    this.keyIds.set(apiKeyId, apiKeyId);
    return apiKeyId;
  }

  private keepEnded(e: Ended, now: number): void {
    this.ended.set(e.id, e);
    if (this.ended.size >= this.sweepAt) this.sweepEnded(now);
  }

  private seen(now: number): void {
    if (now > this.latestNow) this.latestNow = now;
  }

  /**
   * Drops the revoked sessions no token of which can be valid any more and
   * whose family has no unrevoked session left (nothing for reuse to revoke).
   */
  private sweepEnded(now: number): number {
    let n = 0;
    for (const [id, e] of this.ended) {
      if (e.tokensExpireAt <= now && !this.unrevokedByFamily.has(e.familyId)) {
        this.ended.delete(id);
        if (e.expiresAt > now) this.forgotten.set(id, e);
        n++;
      }
    }
    this.sweepAt = Math.max(MIN_SWEEP_AT, 2 * this.ended.size);
    return n;
  }

  async open(session: Session, maxLivePerKey: number, now: number): Promise<Session[]> {
    this.seen(now);
    if (session.revokedAt !== undefined) {
      this.keepEnded(Ended.of(session, session.revokedAt, this.keyId(session.apiKeyId)), now);
      return [];
    }
    const mark = this.capMarks.get(session.apiKeyId);
    if (mark !== undefined && coveredByMark(session, mark)) {
      // At or before the mark, where every session is closed: refused (never stored, no token of it issued).
      return [{ ...copy(session), revokedAt: now, revokeReason: RevokeReason.sessionLimit }];
    }
    const stored = copy(session);
    this.byId.set(session.id, stored);
    if (stored.credentialExpiresAt !== undefined) this.withCredentialExpiry.add(stored.id);
    addTo(this.unrevokedByKey, stored.apiKeyId, stored.id);
    addTo(this.unrevokedByFamily, stored.familyId, stored.id);
    const closed: Session[] = [];
    if (session.name !== undefined) {
      const same = this.liveOf(session.apiKeyId, now).filter((s) => s.name === session.name);
      for (const s of same.slice(1)) closed.push(this.markRevoked(s, RevokeReason.replaced, now));
    }
    const over = this.liveOf(session.apiKeyId, now).slice(maxLivePerKey);
    const [newestOver] = over;
    if (newestOver !== undefined) {
      // The mark first: every session at or before it is then closed (the oldest are, newest first).
      this.raiseCapMark(newestOver, Math.max(...over.map(accessTokensExpireAt)));
      for (const s of over) closed.push(this.markRevoked(s, RevokeReason.sessionLimit, now));
    }
    return closed;
  }

  async capMark(apiKeyId: string): Promise<CapMark | undefined> {
    const mark = this.capMarks.get(apiKeyId);
    return mark === undefined ? undefined : { ...mark };
  }

  async listCapMarks(now: number): Promise<CapMark[]> {
    const out: CapMark[] = [];
    for (const mark of this.capMarks.values()) if (mark.tokensExpireAt > now) out.push({ ...mark });
    return out;
  }

  async get(id: string): Promise<Session | undefined> {
    const s = this.byId.get(id);
    if (s) return copy(s);
    return (this.ended.get(id) ?? this.forgotten.get(id))?.toSession();
  }

  async rotate(
    id: string,
    presentedHash: string,
    next: { refreshHash: string; expiresAt: number },
    now: number,
  ): Promise<RotateResult> {
    this.seen(now);
    const s = this.byId.get(id);
    if (!s) {
      const e = this.ended.get(id) ?? this.forgotten.get(id);
      if (!e) return { kind: "failed", session: undefined };
      return { kind: (await this.wasSpent(id, presentedHash)) ? "reused" : "failed", session: e.toSession() };
    }
    if (s.refreshHash === presentedHash && isLive(s, now)) {
      this.spent.set(presentedHash, { sessionId: id, expiresAt: next.expiresAt });
      s.refreshHash = next.refreshHash;
      s.expiresAt = next.expiresAt;
      s.generation += 1;
      s.rotatedAt = now;
      return { kind: "rotated", session: copy(s) };
    }
    if (await this.wasSpent(id, presentedHash)) return { kind: "reused", session: copy(s) };
    return { kind: "failed", session: copy(s) };
  }

  async wasSpent(id: string, hash: string): Promise<boolean> {
    return this.spent.get(hash)?.sessionId === id;
  }

  async revoke(id: string, reason: string, now: number): Promise<Session | undefined> {
    this.seen(now);
    const s = this.byId.get(id);
    if (!s) return undefined;
    return this.markRevoked(s, reason, now);
  }

  async revokeFamily(familyId: string, reason: string, now: number): Promise<Session[]> {
    this.seen(now);
    const members = [...(this.unrevokedByFamily.get(familyId) ?? [])].flatMap((id) => {
      const s = this.byId.get(id);
      return s ? [s] : [];
    });
    const keepUntil = Math.max(now, ...members.map((s) => s.expiresAt));
    this.revokedFamilies.set(familyId, Math.max(keepUntil, this.revokedFamilies.get(familyId) ?? now));
    return members.filter((s) => isLive(s, now)).map((s) => this.markRevoked(s, reason, now));
  }

  async isFamilyRevoked(familyId: string): Promise<boolean> {
    return this.revokedFamilies.has(familyId);
  }

  async revokeForKey(apiKeyId: string, reason: string, now: number, which: KeySessionSelection): Promise<Session[]> {
    // `select` is given a copy: the stored session is not its to change.
    return this.liveOf(apiKeyId, now)
      .filter((s) => isSelected(copy(s), which))
      .map((s) => this.markRevoked(s, reason, now));
  }

  async limitCredential(apiKeyId: string, upToGeneration: number, expiresAt: number, now: number): Promise<void> {
    for (const s of this.liveOf(apiKeyId, now)) {
      if (!credentialLimitShortens(s, upToGeneration, expiresAt)) continue;
      s.credentialExpiresAt = expiresAt;
      this.withCredentialExpiry.add(s.id);
    }
  }

  async listCredentialExpired(now: number, limit: number): Promise<Session[]> {
    const out: Session[] = [];
    for (const id of this.withCredentialExpiry) {
      if (out.length >= limit) break;
      const s = this.byId.get(id);
      if (!s || s.expiresAt <= now) {
        this.withCredentialExpiry.delete(id);
        continue;
      }
      if (s.credentialExpiresAt !== undefined && s.credentialExpiresAt <= now) out.push(copy(s));
    }
    return out;
  }

  async listLive(apiKeyId: string, now: number): Promise<Session[]> {
    return this.liveOf(apiKeyId, now).map(copy);
  }

  async newestCreatedAt(apiKeyId: string, now: number): Promise<number | undefined> {
    // One pass: no copy and no sort of the key's sessions, as a grant asks this each time.
    let newest: number | undefined;
    this.eachLive(apiKeyId, now, (s) => {
      if (newest === undefined || s.createdAt > newest) newest = s.createdAt;
    });
    return newest;
  }

  async listRevokedSince(since: number): Promise<Session[]> {
    const out: Session[] = [];
    for (const e of this.ended.values()) {
      if (e.revokedAt >= since && e.revokeReason !== RevokeReason.sessionLimit) out.push(e.toSession());
    }
    return out;
  }

  async listRotatedSince(since: number): Promise<Session[]> {
    return [...this.byId.values()].filter((s) => s.rotatedAt !== undefined && s.rotatedAt >= since).map((s) => copy(s));
  }

  async purgeExpired(before: number): Promise<number> {
    let n = 0;
    for (const [id, s] of this.byId) {
      if (s.expiresAt < before) {
        this.byId.delete(id);
        removeFrom(this.unrevokedByKey, s.apiKeyId, id);
        removeFrom(this.unrevokedByFamily, s.familyId, id);
        this.withCredentialExpiry.delete(id);
        n++;
      }
    }
    for (const [id, e] of this.ended) {
      if (e.expiresAt < before) {
        this.ended.delete(id);
        n++;
      }
    }
    n += this.sweepEnded(Math.max(before, this.latestNow));
    const over = [...this.forgotten.entries()].filter(([, e]) => e.expiresAt < before);
    for (const [id] of over) this.forgotten.delete(id);
    n += over.length;
    for (const [hash, h] of this.spent) if (h.expiresAt < before) this.spent.delete(hash);
    for (const [family, until] of this.revokedFamilies) if (until < before) this.revokedFamilies.delete(family);
    for (const [key, mark] of this.capMarks) if (mark.tokensExpireAt < before) this.capMarks.delete(key);
    return n;
  }

  async isReady(): Promise<boolean> {
    return true;
  }
}
