import { LRUCache } from "lru-cache";
import { clientKey } from "./client-ip";

/** The rate-limit tiers (API.md section 9); a method's tier follows its name prefix. */
export const TIERS = ["pki", "pkiadmin", "user", "audit", "auth"] as const;
export type Tier = (typeof TIERS)[number];

/** Requests per minute per tier; 0 turns a tier's default limit off. */
export type TierLimits = Record<Tier, number>;

export const DEFAULT_RATE_LIMITS: TierLimits = { pki: 6000, pkiadmin: 600, user: 120, audit: 60, auth: 600 };

/** The tier of a JSON-RPC method, or undefined for a name outside every tier. */
export function tierOf(method: string): Tier | undefined {
  const slash = method.indexOf("/");
  if (slash < 0) return undefined;
  const prefix = method.slice(0, slash).toLowerCase();
  return (TIERS as readonly string[]).includes(prefix) ? (prefix as Tier) : undefined;
}

/** The window every limit is counted over. */
export const WINDOW_MS = 60_000;
/** Counts are kept per slot of this length. */
export const SLOT_MS = 1000;
/**
 * A request stays counted until the slot 61 slots after its own begins: that
 * is at least 60 s after it arrived wherever in its slot it did, so no 60 s
 * window ever holds more than the limit (a request is held up to a second longer).
 */
export const SLOTS = WINDOW_MS / SLOT_MS + 1;

/** What a counter answers for one request. */
export interface WindowDecision {
  readonly allowed: boolean;
  readonly limit: number;
  /** Requests that would still be accepted now. */
  readonly remaining: number;
  /** Seconds until the oldest counted request leaves the window (a slot frees up). */
  readonly resetSeconds: number;
  /** Seconds until a request would pass; 0 when allowed. */
  readonly retryAfterSeconds: number;
}

/** Where counters live: in this process, or shared by every gateway (Redis). */
export interface CounterStore {
  /**
   * Counts one request against `key` if fewer than `limit` are in the window;
   * with `peek` it only tells whether one would be accepted.
   */
  hit(key: string, limit: number, peek?: boolean): Promise<WindowDecision>;
  close?(): Promise<void>;
}

/**
 * The sliding-window decision over per-slot counts, shared in spirit with the
 * Redis script (which does the same arithmetic in Lua). `slots` holds
 * [slot, count] pairs of the slots still inside the window, oldest first;
 * on acceptance the caller adds one to `nowSlot`.
 */
export function decide(slots: ReadonlyArray<readonly [number, number]>, limit: number, nowMs: number): WindowDecision {
  const nowSlot = Math.floor(nowMs / SLOT_MS);
  let count = 0;
  for (const [, n] of slots) count += n;
  const expiry = (slot: number) => Math.max(1, Math.ceil(((slot + SLOTS) * SLOT_MS - nowMs) / 1000));
  if (count < limit) {
    const oldest = slots.length > 0 ? (slots[0] as readonly [number, number])[0] : nowSlot;
    return { allowed: true, limit, remaining: limit - count - 1, resetSeconds: expiry(oldest), retryAfterSeconds: 0 };
  }
  // Refused: a request passes once enough of the oldest slots have left.
  let left = count;
  let freedAt = nowSlot;
  for (const [slot, n] of slots) {
    left -= n;
    freedAt = slot;
    if (left < limit) break;
  }
  const retry = expiry(freedAt);
  return { allowed: false, limit, remaining: 0, resetSeconds: retry, retryAfterSeconds: retry };
}

/**
 * Counters in this process: a sliding window per key, of at most SLOTS
 * [slot, count] pairs. At most `maxKeys` keys are kept, the least recently
 * seen going first (such a key starts again with an empty window), and a key
 * whose window has emptied is dropped when it is next looked at or by TTL.
 */
export class MemoryCounterStore implements CounterStore {
  private readonly windows: LRUCache<string, Array<[number, number]>>;

  constructor(
    private readonly now: () => number = Date.now,
    maxKeys = 100_000,
  ) {
    this.windows = new LRUCache({ max: maxKeys, ttl: SLOTS * SLOT_MS, ttlAutopurge: false });
  }

  hit(key: string, limit: number, peek = false): Promise<WindowDecision> {
    return Promise.resolve(this.hitSync(key, limit, peek));
  }

  hitSync(key: string, limit: number, peek = false): WindowDecision {
    const now = this.now();
    const nowSlot = Math.floor(now / SLOT_MS);
    const slots = (this.windows.get(key) ?? []).filter(([slot]) => slot > nowSlot - SLOTS);
    const decision = decide(slots, limit, now);
    if (decision.allowed && !peek) {
      const last = slots[slots.length - 1];
      if (last !== undefined && last[0] === nowSlot) last[1] += 1;
      else slots.push([nowSlot, 1]);
    }
    if (slots.length > 0) this.windows.set(key, slots);
    else this.windows.delete(key);
    return decision;
  }

  /** Number of keys with state (for tests). */
  get size(): number {
    return this.windows.size;
  }
}

/** Who a request is counted against. */
export type Subject = { kind: "key"; id: string } | { kind: "ip"; id: string } | { kind: "client"; id: string };

/**
 * Applies the tier limits: the default per tier unless the API key has its
 * own. A key's own limit applies even when the tier's default is off.
 */
export class RateLimiter {
  constructor(
    readonly store: CounterStore,
    readonly limits: TierLimits,
  ) {}

  /** The limit for `tier` given a key's own limits; 0 means none. */
  limitFor(tier: Tier, own?: Partial<Record<Tier, number>>): number {
    const mine = own?.[tier];
    return mine !== undefined && mine > 0 ? mine : this.limits[tier];
  }

  /** Counts one request; undefined when no limit applies. */
  async take(tier: Tier, subject: Subject, own?: Partial<Record<Tier, number>>): Promise<WindowDecision | undefined> {
    const limit = this.limitFor(tier, own);
    if (limit <= 0) return undefined;
    return this.store.hit(`${tier}:${subject.kind}:${subject.id}`, limit);
  }

  /** Whether a request would be accepted, without counting it; undefined when no limit applies. */
  async peek(tier: Tier, subject: Subject): Promise<WindowDecision | undefined> {
    const limit = this.limits[tier];
    if (limit <= 0) return undefined;
    return this.store.hit(`${tier}:${subject.kind}:${subject.id}`, limit, true);
  }
}

/** What HttpAdmission needs of a caller: its key, and how its credential came (its own limits with it). */
export interface CountedCaller {
  readonly apiKeyId: string;
  readonly via: "token" | "basic" | "signature";
  readonly rateLimits?: Partial<Record<Tier, number>> | undefined;
}

/** The own limits of keys whose tokens are in use (a token names only its key). */
export interface OwnLimitsSource {
  get(apiKeyId: string): Promise<Partial<Record<Tier, number>> | undefined>;
}

/**
 * Who a request is counted as, and the limits of its own it brings: its API
 * key when its credentials hold (a token's key's limits come from the cache
 * the key events keep; Basic and signed credentials bring them), else its
 * client address, IPv6 per /64 (API.md section 9). JSON-RPC methods and the
 * HTTP endpoints outside JSON-RPC are counted alike through it.
 */
export async function countedAs(
  caller: CountedCaller | undefined,
  clientIp: string,
  keyLimits: OwnLimitsSource,
): Promise<{ subject: Subject; own: Partial<Record<Tier, number>> | undefined }> {
  if (caller === undefined) return { subject: { kind: "ip", id: clientKey(clientIp) }, own: undefined };
  const own = caller.via === "token" ? await keyLimits.get(caller.apiKeyId) : caller.rateLimits;
  return { subject: { kind: "key", id: caller.apiKeyId }, own };
}

/**
 * Counts the requests of HTTP endpoints outside JSON-RPC (the transparency
 * log's files, the audit export) as JSON-RPC methods are counted (API.md
 * section 9): an authenticated caller per API key under the key's own limits
 * where it has them, an anonymous one per address (IPv6 per /64); each
 * refusal also goes to the audit log's per-minute aggregate.
 */
export class HttpAdmission {
  constructor(
    private readonly deps: {
      limiter: RateLimiter;
      keyLimits: OwnLimitsSource;
      refusals?: { refused(client: string, tier: string): void } | undefined;
    },
  ) {}

  /**
   * Counts one request in `tier`: sets the RateLimit-* headers, and on a
   * refusal HTTP 429 with Retry-After. Returns false when the request is
   * refused (the caller sends the body), true otherwise.
   */
  async admit(
    tier: Tier,
    caller: CountedCaller | undefined,
    clientIp: string,
    reply: { header(name: string, value: string): unknown; code(status: number): unknown },
  ): Promise<boolean> {
    const { subject, own } = await countedAs(caller, clientIp, this.deps.keyLimits);
    const decision = await this.deps.limiter.take(tier, subject, own);
    if (decision === undefined) return true;
    reply.header("ratelimit-limit", String(decision.limit));
    reply.header("ratelimit-remaining", String(decision.remaining));
    reply.header("ratelimit-reset", String(decision.resetSeconds));
    if (decision.allowed) return true;
    this.deps.refusals?.refused(`${subject.kind}:${subject.id}`, tier);
    reply.code(429);
    reply.header("retry-after", String(decision.retryAfterSeconds));
    return false;
  }
}
