import { LRUCache } from "lru-cache";

/** Outcome of taking tokens from a client's bucket. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per client: `perMinute` tokens, refilled continuously, so a
 * client may burst up to a minute's allowance and then sustains the rate.
 * Buckets that have refilled completely carry no state worth keeping and are
 * dropped, which bounds memory by the number of recently active clients; at
 * most `maxClients` are kept at once, the least recently seen going first
 * (such a client starts again with a full bucket).
 */
export class RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly ratePerMs: number;
  private lastSweep: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    maxClients = 100_000,
  ) {
    this.ratePerMs = perMinute / 60_000;
    this.lastSweep = now();
    this.buckets = new LRUCache<string, Bucket>({ max: maxClients });
  }

  get enabled(): boolean {
    return this.perMinute > 0;
  }

  take(client: string, cost = 1): RateDecision {
    if (!this.enabled) return { allowed: true };
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(client) ?? { tokens: this.perMinute, updatedAt: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.updatedAt) * this.ratePerMs);
    bucket.updatedAt = now;
    this.buckets.set(client, bucket);
    // A cost above the bucket's size could never be met, so it is capped at a full bucket.
    const need = Math.min(cost, this.perMinute);
    if (bucket.tokens >= need) {
      bucket.tokens -= need;
      return { allowed: true };
    }
    const missing = need - bucket.tokens;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(missing / this.ratePerMs / 1000)) };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const full = [...this.buckets.entries()].filter(
      ([, b]) => b.tokens + (now - b.updatedAt) * this.ratePerMs >= this.perMinute,
    );
    for (const [key] of full) this.buckets.delete(key);
  }

  /** Number of clients with state (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }
}
