import { LRUCache } from "lru-cache";
import type { Tier } from "../http/rate-limit";

export type KeyLimits = Partial<Record<Tier, number>>;

const TIER_NAMES: readonly Tier[] = ["pki", "pkiadmin", "user", "audit", "auth"];

/** The tiers a service message sets (proto optional fields), as a plain object. */
export function keyLimitsOf(r: Partial<Record<Tier, number | undefined>> | undefined): KeyLimits {
  const out: KeyLimits = {};
  if (r === undefined) return out;
  for (const tier of TIER_NAMES) {
    const v = r[tier];
    if (typeof v === "number" && v > 0) out[tier] = v;
  }
  return out;
}

/**
 * The own rate limits of the keys whose access tokens are in use: a token
 * carries only its key's id, and asking the apikey service on every request
 * would cost a round trip each. An entry is fetched once, kept up to date by
 * `apikey.updated`/`apikey.deleted` events, and expires after `ttlMs` in case
 * an event was missed. Bounded in size; a failed fetch is not remembered (the
 * request is counted under the tier defaults meanwhile).
 */
export class KeyLimitsCache {
  private readonly entries: LRUCache<string, KeyLimits>;
  private readonly pending = new Map<string, Promise<KeyLimits | undefined>>();

  constructor(
    private readonly fetch: (apiKeyId: string) => Promise<KeyLimits | undefined>,
    opts: { max?: number; ttlMs?: number } = {},
  ) {
    this.entries = new LRUCache({ max: opts.max ?? 10_000, ttl: opts.ttlMs ?? 5 * 60_000 });
  }

  async get(apiKeyId: string): Promise<KeyLimits | undefined> {
    const known = this.entries.get(apiKeyId);
    if (known !== undefined) return known;
    let p = this.pending.get(apiKeyId);
    if (p === undefined) {
      // A slow apikey service must not hold requests up: past a second they go by the defaults.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), 1000);
      });
      p = Promise.race([this.fetch(apiKeyId), late])
        .then((limits) => {
          // A change that arrived while the fetch was under way is newer: keep it.
          if (limits !== undefined && !this.entries.has(apiKeyId)) this.entries.set(apiKeyId, limits);
          return limits;
        })
        .catch(() => undefined)
        .finally(() => {
          clearTimeout(timer);
          this.pending.delete(apiKeyId);
        });
      this.pending.set(apiKeyId, p);
    }
    return p;
  }

  /** A key's limits as a change announced them; undefined: unknown, fetched again when next needed. */
  set(apiKeyId: string, limits: KeyLimits | undefined): void {
    if (limits === undefined) this.entries.delete(apiKeyId);
    else this.entries.set(apiKeyId, limits);
  }

  delete(apiKeyId: string): void {
    this.entries.delete(apiKeyId);
  }
}
