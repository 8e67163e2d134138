import type { KeySessionSelection, Session } from "../domain/entities";
import { credentialLimitShortens, isLive, isSelected, newestFirst, RevokeReason } from "../domain/entities";
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
 * Sessions in process memory: the embedded default and unit tests. Per-key
 * and per-family indexes hold only unrevoked sessions, so a key's closed
 * sessions cost a grant nothing however many there are.
 */
export class MemorySessionStore implements SessionStore {
  private readonly byId = new Map<string, Session>();
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

  private liveOf(apiKeyId: string, now: number): Session[] {
    const ids = this.unrevokedByKey.get(apiKeyId);
    if (!ids) return [];
    const live: Session[] = [];
    for (const id of ids) {
      const s = this.byId.get(id);
      if (s && isLive(s, now)) live.push(s);
      // An expired session never comes back: it leaves the index the first time it is met.
      else if (!s || s.expiresAt <= now) ids.delete(id);
    }
    if (ids.size === 0) this.unrevokedByKey.delete(apiKeyId);
    return live.sort(newestFirst);
  }

  private markRevoked(s: Session, reason: string, now: number): Session {
    s.revokedAt = now;
    s.revokeReason = reason;
    removeFrom(this.unrevokedByKey, s.apiKeyId, s.id);
    removeFrom(this.unrevokedByFamily, s.familyId, s.id);
    this.withCredentialExpiry.delete(s.id);
    return copy(s);
  }

  async open(session: Session, maxLivePerKey: number, now: number): Promise<Session[]> {
    const stored = copy(session);
    this.byId.set(session.id, stored);
    if (stored.credentialExpiresAt !== undefined && stored.revokedAt === undefined) {
      this.withCredentialExpiry.add(stored.id);
    }
    if (stored.revokedAt === undefined) {
      addTo(this.unrevokedByKey, stored.apiKeyId, stored.id);
      addTo(this.unrevokedByFamily, stored.familyId, stored.id);
    }
    const closed: Session[] = [];
    if (session.name !== undefined) {
      const same = this.liveOf(session.apiKeyId, now).filter((s) => s.name === session.name);
      for (const s of same.slice(1)) closed.push(this.markRevoked(s, RevokeReason.replaced, now));
    }
    for (const s of this.liveOf(session.apiKeyId, now).slice(maxLivePerKey)) {
      closed.push(this.markRevoked(s, RevokeReason.sessionLimit, now));
    }
    return closed;
  }

  async get(id: string): Promise<Session | undefined> {
    const s = this.byId.get(id);
    return s && copy(s);
  }

  async rotate(
    id: string,
    presentedHash: string,
    next: { refreshHash: string; expiresAt: number },
    now: number,
  ): Promise<RotateResult> {
    const s = this.byId.get(id);
    if (!s) return { kind: "failed", session: undefined };
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
    const s = this.byId.get(id);
    if (!s || s.revokedAt !== undefined) return undefined;
    return this.markRevoked(s, reason, now);
  }

  async revokeFamily(familyId: string, reason: string, now: number): Promise<Session[]> {
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
      if (!s || s.revokedAt !== undefined || s.expiresAt <= now) {
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

  async listRevokedSince(since: number): Promise<Session[]> {
    return [...this.byId.values()].filter((s) => s.revokedAt !== undefined && s.revokedAt >= since).map((s) => copy(s));
  }

  async listRotatedSince(since: number): Promise<Session[]> {
    return [...this.byId.values()]
      .filter((s) => s.revokedAt === undefined && s.rotatedAt !== undefined && s.rotatedAt >= since)
      .map((s) => copy(s));
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
    for (const [hash, h] of this.spent) if (h.expiresAt < before) this.spent.delete(hash);
    for (const [family, until] of this.revokedFamilies) if (until < before) this.revokedFamilies.delete(family);
    return n;
  }

  async isReady(): Promise<boolean> {
    return true;
  }
}
