import { AppError, scopesWithin } from "@pkiserver/kit";
import type { TokenClaims } from "./token-verifier";

/** A change of an API key that may withdraw tokens issued before it. */
export interface KeyChange {
  apiKeyId: string;
  /** ms since the epoch, when the change happened. */
  at: number;
  deleted: boolean;
  enabled: boolean;
  maxScope: readonly string[];
}

export interface RevocationSnapshot {
  revoked: readonly { sessionId: string; revokedAt: number }[];
  generations: readonly { sessionId: string; generation: number }[];
}

/** A token's standard `iat` is in whole seconds, so "issued before" is only certain a second later. */
const DEFAULT_ISSUED_AT_RESOLUTION_MS = 1000;

/**
 * What the gateway knows about withdrawn tokens: revoked sessions, the
 * current generation of rotated sessions, and API-key changes (deletion,
 * disabling, narrowing). Built from auth's snapshot and kept current by
 * events; the gateway that serves a change also applies it here at once.
 *
 * Entries are kept for `retentionMs` (longer than any token lives), which
 * bounds memory.
 */
export class RevocationCache {
  private readonly revoked = new Map<string, number>();
  private readonly generations = new Map<string, { generation: number; at: number }>();
  private readonly keyChanges = new Map<string, KeyChange[]>();
  private loaded = false;
  private lastPrune = 0;

  constructor(private readonly opts: { retentionMs?: number; now?: () => number } = {}) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private get retentionMs(): number {
    // Access tokens may live as long as refresh tokens (expiresIn ≤ refresh lifetime, 7 days by default).
    return this.opts.retentionMs ?? 8 * 24 * 3600_000;
  }

  /** Merges auth's list of live revocations; marks the cache as complete. */
  loadSnapshot(snapshot: RevocationSnapshot): void {
    for (const r of snapshot.revoked) this.revokeSession(r.sessionId);
    for (const g of snapshot.generations) this.rotateSession(g.sessionId, g.generation);
    this.loaded = true;
  }

  isLoaded(): boolean {
    return this.loaded;
  }

  /**
   * A revoked session's tokens all stop working. The entry is kept for the
   * retention counted from when this cache learned of it, not from the
   * reported time, so a clock skew between services cannot shorten it.
   */
  revokeSession(sessionId: string): void {
    this.revoked.set(sessionId, this.now());
    this.prune();
  }

  /** Tokens of an older generation than `generation` stop working. */
  rotateSession(sessionId: string, generation: number): void {
    const cur = this.generations.get(sessionId);
    if (cur === undefined || cur.generation < generation)
      this.generations.set(sessionId, { generation, at: this.now() });
    this.prune();
  }

  applyKeyChange(change: KeyChange): void {
    const list = this.keyChanges.get(change.apiKeyId) ?? [];
    list.push({ ...change, maxScope: [...change.maxScope] });
    list.sort((a, b) => a.at - b.at);
    this.keyChanges.set(change.apiKeyId, list);
    this.prune();
  }

  /** Throws `75` when the token has been withdrawn. */
  check(claims: TokenClaims): void {
    if (this.isWithdrawn(claims)) throw new AppError("auth.token_expired");
  }

  isWithdrawn(claims: TokenClaims): boolean {
    if (this.revoked.has(claims.sessionId)) return true;
    const gen = this.generations.get(claims.sessionId);
    if (gen !== undefined && claims.generation < gen.generation) return true;
    const changes = this.keyChanges.get(claims.apiKeyId);
    if (changes === undefined) return false;
    const latest = changes[changes.length - 1] as KeyChange;
    for (const c of changes) {
      if (c.at < claims.issuedAt || !this.withdraws(c, claims)) continue;
      if (c.at >= claims.issuedAt + (claims.issuedAtResolutionMs ?? DEFAULT_ISSUED_AT_RESOLUTION_MS)) return true;
      // Issued within the resolution of the change: the order is unknown, so
      // the token is refused only while the key's current state still refuses it
      // (a key disabled and re-enabled within that second keeps its new tokens).
      if (this.withdraws(latest, claims)) return true;
    }
    return false;
  }

  private withdraws(c: KeyChange, claims: TokenClaims): boolean {
    return c.deleted || !c.enabled || !scopesWithin(claims.scope, c.maxScope);
  }

  private prune(): void {
    const now = this.now();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    const cutoff = now - this.retentionMs;
    for (const [k, at] of this.revoked) if (at < cutoff) this.revoked.delete(k);
    for (const [k, g] of this.generations) if (g.at < cutoff) this.generations.delete(k);
    for (const [k, list] of this.keyChanges) {
      const kept = list.filter((c) => c.at >= cutoff);
      if (kept.length === 0) this.keyChanges.delete(k);
      else if (kept.length !== list.length) this.keyChanges.set(k, kept);
    }
  }
}
