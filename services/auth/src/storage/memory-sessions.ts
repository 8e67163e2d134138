import { isLive, newestFirst, PREVIOUS_HASHES_KEPT, RevokeReason, type Session } from "../domain/model";
import type { RotateResult, SessionStore } from "../domain/ports";

/** Sessions in process memory: the embedded default and unit tests. */
export class MemorySessionStore implements SessionStore {
  private readonly byId = new Map<string, Session>();

  private liveOf(apiKeyId: string, now: number): Session[] {
    return [...this.byId.values()].filter((s) => s.apiKeyId === apiKeyId && isLive(s, now)).sort(newestFirst);
  }

  private markRevoked(s: Session, reason: string, now: number): Session {
    s.revokedAt = now;
    s.revokeReason = reason;
    return structuredClone(s);
  }

  async open(session: Session, maxLivePerKey: number, now: number): Promise<Session[]> {
    this.byId.set(session.id, structuredClone(session));
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
    return s && structuredClone(s);
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
      s.previousHashes = [...s.previousHashes, presentedHash].slice(-PREVIOUS_HASHES_KEPT);
      s.refreshHash = next.refreshHash;
      s.expiresAt = next.expiresAt;
      s.generation += 1;
      s.rotatedAt = now;
      return { kind: "rotated", session: structuredClone(s) };
    }
    if (s.previousHashes.includes(presentedHash)) return { kind: "reused", session: structuredClone(s) };
    return { kind: "failed", session: structuredClone(s) };
  }

  async revoke(id: string, reason: string, now: number): Promise<Session | undefined> {
    const s = this.byId.get(id);
    if (!s || s.revokedAt !== undefined) return undefined;
    return this.markRevoked(s, reason, now);
  }

  async revokeForKey(
    apiKeyId: string,
    reason: string,
    now: number,
    createdUpTo: number,
    select?: (s: Session) => boolean,
  ): Promise<Session[]> {
    return this.liveOf(apiKeyId, now)
      .filter((s) => s.createdAt <= createdUpTo && (select ? select(structuredClone(s)) : true))
      .map((s) => this.markRevoked(s, reason, now));
  }

  async listLive(apiKeyId: string, now: number): Promise<Session[]> {
    return this.liveOf(apiKeyId, now).map((s) => structuredClone(s));
  }

  async listRevokedSince(since: number): Promise<Session[]> {
    return [...this.byId.values()]
      .filter((s) => s.revokedAt !== undefined && s.revokedAt >= since)
      .map((s) => structuredClone(s));
  }

  async listRotatedSince(since: number): Promise<Session[]> {
    return [...this.byId.values()]
      .filter((s) => s.revokedAt === undefined && s.rotatedAt !== undefined && s.rotatedAt >= since)
      .map((s) => structuredClone(s));
  }

  async purgeExpired(before: number): Promise<number> {
    let n = 0;
    for (const [id, s] of this.byId) {
      if (s.expiresAt < before) {
        this.byId.delete(id);
        n++;
      }
    }
    return n;
  }

  async isReady(): Promise<boolean> {
    return true;
  }
}
