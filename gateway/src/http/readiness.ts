import { isPlainObject } from "@pkiserver/contract";
import { AppError, ErrorCatalogue } from "@pkiserver/kit";
import { errorReply, type RpcReply } from "../rpc/dispatch";

export type Checks = Record<string, boolean>;

/** Seconds a client is asked to wait (Retry-After) before calling again when the gateway cannot serve. */
export const UNAVAILABLE_RETRY_AFTER_S = 1;

/**
 * Whether the gateway can serve calls. It starts not serving: until every
 * check (each backend answers, the bus is up, auth's signing keys and
 * revocations are loaded) has passed once, calls are refused with
 * `-32000 "Service unavailable"` (API.md section 7) rather than failing one
 * by one while the backends come up. Once serving, a backend that goes away
 * is seen call by call (gRPC UNAVAILABLE), not here. When the gateway shuts
 * down it stops serving for good.
 */
export class Readiness {
  private started = false;
  private closing = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly checks: () => Promise<Checks>,
    private readonly pollMs = 250,
  ) {}

  get serving(): boolean {
    return this.started && !this.closing;
  }

  /** Polls the checks until they all pass once. */
  start(): void {
    const poll = async () => {
      if (this.stopped || this.started) return;
      await this.report().catch(() => undefined);
      if (this.stopped || this.started) return;
      this.timer = setTimeout(() => void poll(), this.pollMs);
      this.timer.unref();
    };
    void poll();
  }

  /** Runs the checks now (for `/ready`); a shutting-down gateway is not ready. */
  async report(): Promise<{ ok: boolean; checks: Record<string, "ok" | "error"> }> {
    const results = await this.checks();
    if (this.closing) results.shutdown = false;
    const ok = Object.values(results).every(Boolean);
    if (ok) this.started = true;
    const checks: Record<string, "ok" | "error"> = {};
    for (const [name, passed] of Object.entries(results)) checks[name] = passed ? "ok" : "error";
    return { ok, checks };
  }

  /** The gateway is shutting down: calls arriving from now on are refused. */
  beginShutdown(): void {
    this.closing = true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

/** The reply to a body refused because the gateway cannot serve: the request's id when it has one. */
export function unavailableReply(body: Buffer): RpcReply {
  let id: string | number | null = null;
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    const candidate = isPlainObject(parsed) ? parsed.id : undefined;
    if (typeof candidate === "string" || typeof candidate === "number") id = candidate;
  } catch {
    // Unparseable: the refusal is all the client gets, with id null.
  }
  return errorReply(id, new AppError("rpc.unavailable"));
}

/** True when every reply in `body` is `-32000`: the call as a whole could not be served (HTTP 503). */
export function isUnavailable(body: RpcReply | RpcReply[] | undefined): boolean {
  const code = ErrorCatalogue["rpc.unavailable"].rpc;
  const replies = body === undefined ? [] : Array.isArray(body) ? body : [body];
  return replies.length > 0 && replies.every((r) => "error" in r && r.error.code === code);
}
