import { AppError, normaliseScopes, scopesWithin } from "@pkiserver/kit/core";
import { LRUCache } from "lru-cache";
import { type AccessTokenClaims, MAX_TOKEN_LIFETIME_MS } from "./token";

/** A change of an API key that may withdraw tokens issued before it. */
export interface KeyChange {
  apiKeyId: string;
  /** ms since the epoch, when the change happened. */
  at: number;
  deleted: boolean;
  enabled: boolean;
  maxScope: readonly string[];
}

/** How long a withdrawal matters: after `tokensExpireAt` no token it withdraws can still be valid. */
export interface Lifetime {
  apiKeyId?: string | undefined;
  /** ms since the epoch on auth's clock, the clock token expiries are written in. */
  tokensExpireAt?: number | undefined;
  /** Without `tokensExpireAt`: the tokens were issued no later than now and live at most this long. */
  accessLifetimeMs?: number | undefined;
}

/**
 * Every session of `apiKeyId` whose (createdAt, sessionId) is at or before
 * this one's is closed (the per-key cap closes a key's oldest sessions), until
 * `tokensExpireAt`.
 */
export interface CapMark {
  apiKeyId: string;
  createdAt: number;
  sessionId: string;
  tokensExpireAt: number;
}

export interface RevocationSnapshot {
  revoked: readonly ({ sessionId: string; revokedAt: number } & Lifetime)[];
  generations: readonly ({ sessionId: string; generation: number } & Lifetime)[];
  /** Sessions the cap closed, one mark per key (absent from older auths, which list them in `revoked`). */
  capMarks?: readonly CapMark[] | undefined;
  /** The longest an access token can live. */
  maxAccessTokenLifetimeMs?: number | undefined;
}

export interface RevocationCacheOptions {
  now?: () => number;
  /** Most sessions remembered as revoked, and as rotated (each). */
  maxSessions?: number;
  /** Most API keys whose changes are remembered. */
  maxKeys?: number;
}

const DEFAULT_MAX_SESSIONS = 50_000;
const DEFAULT_MAX_KEYS = 10_000;
/** Added to ends reckoned on this clock rather than read from auth's token times. */
const CLOCK_SKEW_MS = 60_000;
const PURGE_INTERVAL_MS = 60_000;

/** Scopes a token may still hold: null when none at all (the key was deleted or disabled). */
type Allowed = readonly string[] | null;

function permits(allowed: Allowed, scope: readonly string[]): boolean {
  return allowed !== null && scopesWithin(scope, allowed);
}

/** Both normalised (sorted, expanded), so the result is too. */
function intersect(a: Allowed, b: Allowed): Allowed {
  if (a === null || b === null) return null;
  const inB = new Set(b);
  return a.filter((s) => inB.has(s));
}

function equal(a: Allowed, b: Allowed): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

interface SessionEntry {
  apiKeyId: string | undefined;
  until: number;
}

interface GenerationEntry extends SessionEntry {
  generation: number;
}

/** Every token issued at or before `upTo` is withdrawn, until no such token can be valid. */
interface Cutoff {
  upTo: number;
  until: number;
}

/** Tokens of the key's sessions at or before (createdAt, sessionId) are withdrawn, until `until`. */
interface KeyCapMark {
  createdAt: number;
  sessionId: string;
  until: number;
}

/** Whether session (createdAt, id) is at or before the mark: createdAt, then id (string order). */
export function atOrBeforeMark(createdAt: number, id: string, mark: Pick<CapMark, "createdAt" | "sessionId">): boolean {
  return createdAt < mark.createdAt || (createdAt === mark.createdAt && id <= mark.sessionId);
}

/**
 * What a key's changes withdraw, collapsed: each step says "tokens issued at
 * or before `at` must be within `allowed`". Steps are kept in time order with
 * strictly widening `allowed` (a step no wider than a later one is covered by
 * it), so there are at most as many as there are scopes plus two, however
 * many changes the key had.
 */
interface KeyState {
  steps: { at: number; allowed: Allowed }[];
  /** The key's state after its latest change, for tokens issued in the millisecond of a change. */
  latest: { at: number; allowed: Allowed } | undefined;
  cutoff: Cutoff | undefined;
  /** The newest session the per-key cap closed: one mark stands for every session it closed. */
  capMark?: KeyCapMark | undefined;
}

/**
 * What a verifier (the gateway, a service) knows about withdrawn tokens: revoked sessions, the
 * current generation of rotated sessions, and API-key changes (deletion,
 * disabling, narrowing). Built from auth's snapshot and kept current by
 * events; the gateway that serves a change also applies it here at once.
 *
 * Everything is bounded in time and size. An entry is kept only while a token
 * it withdraws can still be valid: until the session's last access token
 * expires (auth reports when), and for a key change, the longest access
 * lifetime (auth reports it; the 90-day ceiling until it has). Sessions the
 * per-key cap closed cost one mark per key, not an entry each: the cap closes
 * a key's oldest sessions, so every session of the key created at or before
 * the newest one it closed is closed (access tokens carry their session's
 * creation time, `sct`). Each table is
 * an LRU of bounded size; an entry pushed out while it still matters is
 * replaced by a coarser one that withdraws at least as much (every token of
 * the key issued until then, or failing that every token issued until then),
 * so running out of room can cost a client a refresh, never accept a token
 * that was withdrawn. A check costs the same whatever a key's history.
 */
export class RevocationCache {
  private readonly revoked: LRUCache<string, SessionEntry>;
  private readonly generations: LRUCache<string, GenerationEntry>;
  private readonly keys: LRUCache<string, KeyState>;
  /** The last resort when a key's state had to be dropped while it still mattered. */
  private cutoff: Cutoff | undefined;
  private reportedLifetime: number | undefined;
  private observedLifetime = 0;
  private loaded = false;
  private lastPurge: number;
  private readonly now: () => number;

  constructor(opts: RevocationCacheOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.lastPurge = this.now();
    const maxSessions = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.revoked = new LRUCache<string, SessionEntry>({
      max: maxSessions,
      dispose: (entry, _id, reason) => {
        if (reason === "evict") this.sessionDropped(entry);
      },
    });
    this.generations = new LRUCache<string, GenerationEntry>({
      max: maxSessions,
      dispose: (entry, _id, reason) => {
        if (reason === "evict") this.sessionDropped(entry);
      },
    });
    this.keys = new LRUCache<string, KeyState>({
      max: opts.maxKeys ?? DEFAULT_MAX_KEYS,
      dispose: (state, _id, reason) => {
        if (reason !== "evict") return;
        const until = this.keyUntil(state);
        if (until > this.now()) this.cutoff = mergeCutoff(this.cutoff, { upTo: this.now(), until });
      },
    });
  }

  /** The longest an access token may live, as far as this verifier knows. */
  private get maxLifetime(): number {
    return Math.max(this.reportedLifetime ?? MAX_TOKEN_LIFETIME_MS, this.observedLifetime);
  }

  /** When a withdrawal stops mattering: as auth reported, or reckoned here with a margin for clock skew. */
  private untilOf({ tokensExpireAt, accessLifetimeMs }: Lifetime): number {
    if (tokensExpireAt !== undefined && tokensExpireAt > 0) return tokensExpireAt;
    const lifetime = accessLifetimeMs !== undefined && accessLifetimeMs > 0 ? accessLifetimeMs : this.maxLifetime;
    return this.now() + lifetime + CLOCK_SKEW_MS;
  }

  private ttl(until: number): number {
    return Math.max(1, Math.ceil(until - this.now()));
  }

  /** A session entry pushed out for room: its key (or, unknown, everything) loses its older tokens instead. */
  private sessionDropped(entry: SessionEntry): void {
    const now = this.now();
    if (entry.until <= now) return;
    const cut = { upTo: now, until: entry.until };
    if (entry.apiKeyId === undefined) {
      this.cutoff = mergeCutoff(this.cutoff, cut);
      return;
    }
    const state = this.keys.get(entry.apiKeyId) ?? { steps: [], latest: undefined, cutoff: undefined };
    state.cutoff = mergeCutoff(state.cutoff, cut);
    this.storeKey(entry.apiKeyId, state);
  }

  /** Merges auth's list of live revocations; marks the cache as complete. */
  loadSnapshot(snapshot: RevocationSnapshot): void {
    const reported = snapshot.maxAccessTokenLifetimeMs;
    if (reported !== undefined && reported > 0) this.reportedLifetime = Math.max(this.reportedLifetime ?? 0, reported);
    for (const r of snapshot.revoked) this.revokeSession(r.sessionId, r);
    for (const g of snapshot.generations) this.rotateSession(g.sessionId, g.generation, g);
    for (const m of snapshot.capMarks ?? []) this.raiseCapMark(m);
    this.loaded = true;
  }

  isLoaded(): boolean {
    return this.loaded;
  }

  /** A revoked session's tokens all stop working. */
  revokeSession(sessionId: string, lifetime: Lifetime = {}): void {
    const until = this.untilOf(lifetime);
    if (until <= this.now()) return;
    const cur = this.revoked.get(sessionId);
    const entry = { apiKeyId: lifetime.apiKeyId || cur?.apiKeyId, until: Math.max(until, cur?.until ?? until) };
    this.revoked.set(sessionId, entry, { ttl: this.ttl(entry.until) });
    this.maybePurge();
  }

  /** Tokens of an older generation than `generation` stop working. */
  rotateSession(sessionId: string, generation: number, lifetime: Lifetime = {}): void {
    // Generation 0 is a session's first: there is nothing older to refuse.
    if (generation <= 0) return;
    const until = this.untilOf(lifetime);
    if (until <= this.now()) return;
    const cur = this.generations.get(sessionId);
    // A late, older rotation event does not bring old generations back.
    if (cur !== undefined && cur.generation > generation) return;
    const entry = {
      generation,
      apiKeyId: lifetime.apiKeyId || cur?.apiKeyId,
      until: cur?.generation === generation ? Math.max(until, cur.until) : until,
    };
    this.generations.set(sessionId, entry, { ttl: this.ttl(entry.until) });
    this.maybePurge();
  }

  /**
   * Every session of the key created at or before the mark's session
   * (createdAt, then id) is closed; the mark only rises, and its end only
   * moves later.
   */
  raiseCapMark(mark: CapMark): void {
    const until = mark.tokensExpireAt;
    if (!(until > this.now())) return;
    const state = this.keys.get(mark.apiKeyId) ?? { steps: [], latest: undefined, cutoff: undefined };
    const cur = state.capMark;
    if (cur === undefined || cur.until <= this.now()) {
      state.capMark = { createdAt: mark.createdAt, sessionId: mark.sessionId, until };
    } else {
      if (!atOrBeforeMark(mark.createdAt, mark.sessionId, cur)) {
        cur.createdAt = mark.createdAt;
        cur.sessionId = mark.sessionId;
      }
      if (until > cur.until) cur.until = until;
    }
    this.storeKey(mark.apiKeyId, state);
    this.maybePurge();
  }

  applyKeyChange(change: KeyChange): void {
    const allowed: Allowed = change.deleted || !change.enabled ? null : normaliseScopes(change.maxScope);
    const state = this.keys.get(change.apiKeyId) ?? { steps: [], latest: undefined, cutoff: undefined };
    // Every change adds its constraint, a rename too: it collapses into the
    // others, and keeps the answers exactly those of the whole history.
    addStep(state, change.at, allowed);
    if (state.latest === undefined || state.latest.at <= change.at) state.latest = { at: change.at, allowed };
    this.storeKey(change.apiKeyId, state);
    this.maybePurge();
  }

  /** Throws `75` when the token has been withdrawn. */
  check(claims: AccessTokenClaims): void {
    if (this.isWithdrawn(claims)) throw new AppError("auth.token_expired");
  }

  isWithdrawn(claims: AccessTokenClaims): boolean {
    const now = this.now();
    // A token living longer than this verifier was told shows the real bound.
    this.observedLifetime = Math.max(this.observedLifetime, claims.expiresAt - claims.issuedAt);
    if (this.cutoff !== undefined && this.cutoff.until > now && claims.issuedAt <= this.cutoff.upTo) return true;
    const revoked = this.revoked.get(claims.sessionId);
    if (revoked !== undefined && revoked.until > now) return true;
    const gen = this.generations.get(claims.sessionId);
    if (gen !== undefined && gen.until > now && claims.generation < gen.generation) return true;
    const state = this.keys.get(claims.apiKeyId);
    return state !== undefined && this.keyWithdraws(state, claims, now);
  }

  private keyWithdraws(state: KeyState, claims: AccessTokenClaims, now: number): boolean {
    const { cutoff, capMark } = state;
    if (cutoff !== undefined && cutoff.until > now && claims.issuedAt <= cutoff.upTo) return true;
    if (capMark !== undefined && capMark.until > now) {
      // A token without `sct` predates it: it cannot be placed against the mark, so it is refused (a refresh gives one with it).
      const created = claims.sessionCreatedAt;
      if (created === undefined || atOrBeforeMark(created, claims.sessionId, capMark)) return true;
    }
    // Steps older than the longest lifetime cover only expired tokens.
    const oldest = now - this.maxLifetime - CLOCK_SKEW_MS;
    const stepFor = (issuedAt: number) => state.steps.find((s) => s.at >= issuedAt && s.at >= oldest);
    // issuedAt is exact to the millisecond (auth's tokens carry iat_ms): a change in a later millisecond came after.
    const certain = stepFor(claims.issuedAt + 1);
    if (certain !== undefined && !permits(certain.allowed, claims.scope)) return true;
    const any = stepFor(claims.issuedAt);
    if (any === undefined || permits(any.allowed, claims.scope)) return false;
    // Issued in the millisecond of the change: the order is unknown, so the
    // token is refused only while the key's current state still refuses it
    // (a key disabled and re-enabled within that millisecond keeps its new tokens).
    return state.latest === undefined || !permits(state.latest.allowed, claims.scope);
  }

  /** When nothing in the key's state can withdraw a live token any more. */
  private keyUntil(state: KeyState): number {
    const lastStep = state.steps[state.steps.length - 1];
    const stepsUntil = lastStep === undefined ? 0 : lastStep.at + this.maxLifetime + CLOCK_SKEW_MS;
    return Math.max(stepsUntil, state.cutoff?.until ?? 0, state.capMark?.until ?? 0);
  }

  private storeKey(apiKeyId: string, state: KeyState): void {
    const oldest = this.now() - this.maxLifetime - CLOCK_SKEW_MS;
    state.steps = state.steps.filter((s) => s.at >= oldest);
    if (state.cutoff !== undefined && state.cutoff.until <= this.now()) state.cutoff = undefined;
    if (state.capMark !== undefined && state.capMark.until <= this.now()) state.capMark = undefined;
    const until = this.keyUntil(state);
    if (until <= this.now()) {
      this.keys.delete(apiKeyId);
      return;
    }
    this.keys.set(apiKeyId, state, { ttl: this.ttl(until) });
  }

  private maybePurge(): void {
    if (this.now() - this.lastPurge < PURGE_INTERVAL_MS) return;
    this.purge();
  }

  /** Releases every entry past its end now (it happens on its own about once a minute). */
  purge(): void {
    this.lastPurge = this.now();
    this.revoked.purgeStale();
    this.generations.purgeStale();
    this.keys.purgeStale();
    if (this.cutoff !== undefined && this.cutoff.until <= this.now()) this.cutoff = undefined;
  }

  /** How much the cache holds, for tests and metrics. */
  stats(): { revokedSessions: number; rotatedSessions: number; keys: number; keySteps: number } {
    let keySteps = 0;
    for (const state of this.keys.values()) keySteps += state.steps.length;
    return {
      revokedSessions: this.revoked.size,
      rotatedSessions: this.generations.size,
      keys: this.keys.size,
      keySteps,
    };
  }
}

function mergeCutoff(a: Cutoff | undefined, b: Cutoff): Cutoff {
  if (a === undefined) return b;
  return { upTo: Math.max(a.upTo, b.upTo), until: Math.max(a.until, b.until) };
}

/** Adds "tokens issued at or before `at` must be within `allowed`" to what the steps already say. */
function addStep(state: KeyState, at: number, allowed: Allowed): void {
  for (const s of state.steps) if (s.at <= at) s.allowed = intersect(s.allowed, allowed);
  if (!state.steps.some((s) => s.at === at)) {
    const later = state.steps.find((s) => s.at > at);
    state.steps.push({ at, allowed: later === undefined ? allowed : intersect(allowed, later.allowed) });
    state.steps.sort((x, y) => x.at - y.at);
  }
  // A step no wider than the next one is covered by it: tokens issued before it were issued before the next.
  state.steps = state.steps.filter((s, i, all) => {
    const next = all[i + 1];
    return next === undefined || !equal(s.allowed, next.allowed);
  });
}
