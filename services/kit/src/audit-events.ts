import type { eventsV1 } from "@pkiserver/proto";
import type { EventBus } from "./bus";
import { AppError } from "./errors";
import { type EventDef, publishEvent } from "./events";

/** A credential that did not hold, as the component that refused it reports it to the audit log. */
export interface AuthFailure {
  reason: string;
  method: string;
  apiKeyId?: string | undefined;
  clientIp?: string | undefined;
  requestId?: string | undefined;
}

/**
 * The audit reason of a refused credential, from the error the check threw;
 * undefined for what is no verdict on the credential (an outage, bad params).
 */
export function authFailureReason(err: unknown, method: "secret" | "signature" | "token"): string | undefined {
  if (!(err instanceof AppError)) return undefined;
  switch (err.code) {
    case "apikey.not_found":
      return method === "token" ? "bad_token" : "unknown_key";
    case "auth.invalid_credentials":
    case "auth.unauthorized":
      return method === "secret" ? "wrong_secret" : method === "signature" ? "bad_signature" : "bad_token";
    case "auth.token_invalid":
    case "auth.token_expired":
      return "bad_token";
    default:
      return undefined;
  }
}

/** Publishes an `auth.failed` event; a bus failure is left to the caller's logger, never to the request. */
export async function publishAuthFailure(
  bus: EventBus,
  event: EventDef<eventsV1.AuthFailed>,
  f: AuthFailure,
  at = Date.now(),
): Promise<void> {
  await publishEvent(bus, event, {
    reason: f.reason,
    method: f.method,
    at,
    ...(f.apiKeyId !== undefined && f.apiKeyId !== "" ? { apiKeyId: f.apiKeyId.slice(0, 128) } : {}),
    ...(f.clientIp !== undefined && f.clientIp !== "" ? { clientIp: f.clientIp } : {}),
    ...(f.requestId !== undefined && f.requestId !== "" ? { requestId: f.requestId } : {}),
  });
}

const MINUTE_MS = 60_000;

/**
 * Rate-limit refusals for the audit log, aggregated per client (API key or
 * IP), tier and minute: `refused()` only counts, and each minute that had
 * refusals becomes one `ratelimit.refused` event once the minute is over
 * (or at `flush()`). Bounded: beyond `maxEntries` distinct counters in one
 * minute, further clients are counted under `"(others)"`.
 *
 * For the rate-limit engine: create one per gateway with the bus and
 * `Events.rateLimitRefused`, call `refused("key:<id>" | "ip:<addr>", tier)`
 * on each refusal, `start()` it, and `stop()` it on close.
 */
export class RateLimitRefusals {
  private counts = new Map<string, { client: string; tier: string; minute: number; count: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly publish: (e: eventsV1.RateLimitRefused) => Promise<void>,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  static onBus(bus: EventBus, event: EventDef<eventsV1.RateLimitRefused>): RateLimitRefusals {
    // The id makes a minute's event de-duplicable if a flush is retried.
    return new RateLimitRefusals((e) =>
      publishEvent(bus, event, e, `ratelimit.${e.client}.${e.tier}.${e.minute}.${e.count}`),
    );
  }

  refused(client: string, tier: string): void {
    const minute = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS;
    let key = `${client}\n${tier}\n${minute}`;
    if (!this.counts.has(key) && this.counts.size >= this.maxEntries) {
      client = "(others)";
      key = `${client}\n${tier}\n${minute}`;
    }
    const c = this.counts.get(key);
    if (c) c.count++;
    else this.counts.set(key, { client, tier, minute, count: 1 });
  }

  /** Publishes the counters of finished minutes (all of them with `all`). */
  async flush(all = false): Promise<void> {
    const current = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS;
    for (const [key, c] of this.counts) {
      if (!all && c.minute >= current) continue;
      this.counts.delete(key);
      await this.publish({ client: c.client, tier: c.tier, minute: c.minute, count: c.count }).catch(() => undefined);
    }
  }

  start(intervalMs = 10_000): void {
    this.timer ??= setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush(true);
  }
}
