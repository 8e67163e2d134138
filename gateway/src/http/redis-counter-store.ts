import type { Logger } from "@pkiserver/kit";
import { maskUrl } from "@pkiserver/kit/config";
import { Redis } from "ioredis";
import { type CounterStore, SLOT_MS, SLOTS, type WindowDecision } from "./rate-limit";

/**
 * The sliding window of rate-limit.ts `decide()`, done atomically in Redis:
 * one hash per key, field = slot number, value = requests accepted in that
 * slot. Redis's own clock is used so that replicas with skewed clocks count
 * in the same slots. Returns {allowed, remaining, resetSeconds, retryAfterSeconds}.
 */
const SCRIPT = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local peek = ARGV[2] == "1"
local slotMs = tonumber(ARGV[3])
local slots = tonumber(ARGV[4])
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowSlot = math.floor(now / slotMs)
local raw = redis.call("HGETALL", key)
local live = {}
local stale = {}
local count = 0
for i = 1, #raw, 2 do
  local slot = tonumber(raw[i])
  local n = tonumber(raw[i + 1])
  if slot > nowSlot - slots then
    live[#live + 1] = { slot, n }
    count = count + n
  else
    stale[#stale + 1] = raw[i]
  end
end
if #stale > 0 then redis.call("HDEL", key, unpack(stale)) end
table.sort(live, function(a, b) return a[1] < b[1] end)
local function expiry(slot)
  local s = math.ceil(((slot + slots) * slotMs - now) / 1000)
  if s < 1 then return 1 end
  return s
end
if count < limit then
  local oldest = nowSlot
  if #live > 0 then oldest = live[1][1] end
  if not peek then
    redis.call("HINCRBY", key, string.format("%d", nowSlot), 1)
    redis.call("PEXPIRE", key, slots * slotMs + slotMs)
  end
  return { 1, limit - count - 1, expiry(oldest), 0 }
end
local left = count
local freedAt = nowSlot
for _, e in ipairs(live) do
  left = left - e[2]
  freedAt = e[1]
  if left < limit then break end
end
local r = expiry(freedAt)
return { 0, 0, r, r }
`;

/** How often an outage is logged at most (the metric counts every request). */
const LOG_EVERY_MS = 30_000;

/**
 * Counters shared by every gateway replica: one Redis round trip (a Lua
 * script) per counted request. When Redis does not answer the request is
 * accepted (fail open): an outage of the limiter must not become an outage
 * of the directory. ioredis reconnects by itself; commands are not queued
 * while it is away, so each request fails fast instead of waiting.
 */
export class RedisCounterStore implements CounterStore {
  private readonly redis: Redis;
  private lastLog = 0;
  private failing = false;
  /** Settles once the first connection is made (or failed for good): requests at start wait for it, briefly. */
  private readonly firstConnection: Promise<void>;
  /** The server's address for log lines, password masked. */
  private readonly where: string;

  constructor(
    url: string,
    private readonly deps: { logger: Logger; onFailure: () => void; timeoutMs?: number },
  ) {
    this.where = maskUrl(url);
    this.redis = new Redis(url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: deps.timeoutMs ?? 500,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.redis.defineCommand("pmxWindowHit", { numberOfKeys: 1, lua: SCRIPT });
    // Errors are reported per command below; the connection's own are only noise.
    this.redis.on("error", () => {});
    this.firstConnection = new Promise((resolve) => {
      this.redis.once("ready", () => resolve());
      this.redis.once("end", () => resolve());
    });
  }

  /**
   * Without an offline queue a command sent before the connection is up fails
   * at once; right after start that is no outage, so it waits (up to a second)
   * for the first connection. Later, while Redis is away, requests fail fast.
   */
  private async connected(): Promise<void> {
    if (this.redis.status === "ready" || this.everReady) return;
    await Promise.race([this.firstConnection, new Promise((r) => setTimeout(r, 1000).unref())]);
    this.everReady = true;
  }

  private everReady = false;

  async hit(key: string, limit: number, peek = false): Promise<WindowDecision> {
    try {
      await this.connected();
      const redis = this.redis as Redis & { pmxWindowHit(...args: (string | number)[]): Promise<number[]> };
      const [allowed, remaining, resetSeconds, retryAfterSeconds] = await redis.pmxWindowHit(
        `pmx:rl:${key}`,
        limit,
        peek ? "1" : "0",
        SLOT_MS,
        SLOTS,
      );
      if (this.failing) {
        this.failing = false;
        this.deps.logger.info({ redis: this.where }, "rate-limit counters reachable again");
      }
      return {
        allowed: allowed === 1,
        limit,
        remaining: remaining ?? 0,
        resetSeconds: resetSeconds ?? 0,
        retryAfterSeconds: retryAfterSeconds ?? 0,
      };
    } catch (err) {
      this.failed(err);
      return { allowed: true, limit, remaining: limit, resetSeconds: 0, retryAfterSeconds: 0 };
    }
  }

  private failed(err: unknown): void {
    this.failing = true;
    this.deps.onFailure();
    const now = Date.now();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.lastLog = now;
    this.deps.logger.warn(
      { redis: this.where, err: err instanceof Error ? err.message : String(err) },
      `rate-limit counters at ${this.where} unreachable: requests are accepted uncounted`,
    );
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
