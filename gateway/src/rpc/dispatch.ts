import { performance } from "node:perf_hooks";
import type { Span } from "@opentelemetry/api";
import { isPlainObject, parseParams, type RevocationCache } from "@pkiserver/contract";
import type { RateLimitRefusals } from "@pkiserver/kit";
import { AppError, ErrorCatalogue, type Logger } from "@pkiserver/kit";
import type { Authenticator, Caller, Credentials } from "../auth/authenticate";
import type { KeyLimitsCache } from "../auth/key-limits";
import type { ServiceClients } from "../clients";
import type { GatewayMetrics } from "../http/metrics";
import type { RateLimiter, Subject, Tier, WindowDecision } from "../http/rate-limit";
import { countedAs, tierOf } from "../http/rate-limit";
import { lookupMethod, type MethodContext } from "./methods";

export const MAX_BATCH = 100;

type Id = string | number | null;

export interface RpcError {
  code: number;
  message: string;
  data: unknown;
}

export type RpcReply = { jsonrpc: "2.0"; id: Id; result: unknown } | { jsonrpc: "2.0"; id: Id; error: RpcError };

/** One incoming HTTP body or WebSocket message, with what is known about its sender. */
export interface RequestContext {
  readonly requestId: string;
  readonly transport: "http" | "ws";
  readonly clientIp: string;
  readonly credentials: Credentials;
  /** Binds a token to the WebSocket connection the message came on; absent over HTTP. */
  readonly bindToken?: ((token: string) => Promise<void>) | undefined;
  /** The HTTP request's server span when it is traced: named after the JSON-RPC method. */
  readonly span?: Span | undefined;
}

/** The HTTP server span's name: the route and, as the RPC conventions name calls, the method. */
export const RPC_SPAN_PREFIX = "POST /main";

export interface DispatchResult {
  /** The reply (object or array) to send; undefined when nothing is to be sent. */
  readonly body: RpcReply | RpcReply[] | undefined;
  /** HTTP status when not 200: 429 over the rate limit (a -32000 reply gets 503 where it is sent). */
  readonly status?: number;
  /** Seconds until a retry may succeed, with status 429. */
  readonly retryAfterSeconds?: number;
  /** The rate-limit state of the tier the reply's requests were counted in (the tightest one in a batch). */
  readonly rateLimit?: { limit: number; remaining: number; resetSeconds: number };
}

/** The rate-limit decisions taken while one body is handled. */
class Counted {
  readonly decisions: WindowDecision[] = [];
  refused = 0;
  replied = 0;

  /** The tightest state among the body's counted requests, for the RateLimit-* headers. */
  headers(): DispatchResult["rateLimit"] {
    let tightest: WindowDecision | undefined;
    for (const d of this.decisions) if (tightest === undefined || d.remaining < tightest.remaining) tightest = d;
    if (tightest === undefined) return undefined;
    return { limit: tightest.limit, remaining: tightest.remaining, resetSeconds: tightest.resetSeconds };
  }

  /** Seconds until any refused request would pass. */
  retryAfter(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const d of this.decisions) if (!d.allowed) min = Math.min(min, d.retryAfterSeconds);
    return Number.isFinite(min) ? min : 1;
  }
}

/** Raised inside a request's handling when its tier's limit refuses it. */
class Limited extends Error {
  constructor(
    readonly tier: Tier,
    readonly decision: WindowDecision,
    /** Who was refused, as the audit log names clients: `key:<id>` or `ip:<address>`. */
    readonly client: string,
  ) {
    super("rate limited");
  }
}

export function errorReply(id: Id, err: AppError): RpcReply {
  const entry = ErrorCatalogue[err.code];
  // Internal errors carry nothing to the client; their detail is in the log line.
  const data = err.code === "rpc.internal" ? null : (err.data ?? null);
  return { jsonrpc: "2.0", id, error: { code: entry.rpc, message: entry.message, data } };
}

export function parseError(data: string | null = null): RpcReply {
  return errorReply(null, new AppError("rpc.parse_error", { data }));
}

/**
 * The JSON-RPC core shared by HTTP and WebSocket: parses a body, runs each
 * request through the method table (authentication, scope, params, gRPC call,
 * result mapping) and builds the replies. Batches run in order.
 */
export class Dispatcher {
  constructor(
    private readonly deps: {
      clients: ServiceClients;
      authenticator: Authenticator;
      revocations: RevocationCache;
      rateLimiter: RateLimiter;
      keyLimits: KeyLimitsCache;
      metrics: GatewayMetrics;
      /** Rate-limit refusals for the audit log, aggregated per client, tier and minute. */
      refusals?: RateLimitRefusals;
      logger: Logger;
      pkiPublicRead: boolean;
    },
  ) {}

  async handle(raw: Buffer | string, ctx: RequestContext): Promise<DispatchResult> {
    let body: unknown;
    try {
      body = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
    } catch {
      this.log(ctx, "(parse)", -32700, 0);
      return { body: parseError() };
    }

    let caller: Promise<Caller> | undefined;
    const getCaller = () => {
      caller ??= this.deps.authenticator.authenticate(ctx.credentials, ctx.clientIp, ctx.requestId);
      return caller;
    };
    const bindToken =
      ctx.bindToken === undefined
        ? undefined
        : async (token: string) => {
            await (ctx.bindToken as (t: string) => Promise<void>)(token);
            // Later requests of the same batch are authorised by the new binding.
            caller = undefined;
          };

    if (Array.isArray(body)) {
      if (body.length === 0 || body.length > MAX_BATCH) {
        const data = body.length === 0 ? "Empty batch" : `Too many requests in batch! Expected max ${MAX_BATCH}`;
        return { body: errorReply(null, new AppError("rpc.invalid_request", { data })) };
      }
      const counted = new Counted();
      const replies: RpcReply[] = [];
      // One span for the whole body: it is named for the batch, not for each method in it.
      const itemCtx = ctx.span === undefined ? ctx : { ...ctx, span: undefined };
      ctx.span?.updateName(`${RPC_SPAN_PREFIX} (batch)`);
      for (const item of body) {
        const reply = await this.one(item, itemCtx, getCaller, bindToken, counted);
        if (reply !== undefined) replies.push(reply);
      }
      return this.result(replies.length > 0 ? replies : undefined, counted, body.length);
    }

    const counted = new Counted();
    return this.result(await this.one(body, ctx, getCaller, bindToken, counted), counted, 1);
  }

  /** HTTP 429 only when every request of the body was refused by its limit (API.md section 9). */
  private result(body: DispatchResult["body"], counted: Counted, requests: number): DispatchResult {
    const rateLimit = counted.headers();
    const base = rateLimit === undefined ? { body } : { body, rateLimit };
    if (counted.refused > 0 && counted.refused === requests) {
      return { ...base, status: 429, retryAfterSeconds: counted.retryAfter() };
    }
    return base;
  }

  /**
   * Counts one request in its tier: per API key when the caller's credentials
   * hold, else per client address (IPv6 per /64). Throws Limited when refused.
   */
  private async count(
    tier: Tier,
    ctx: RequestContext,
    caller: Caller | undefined,
    counted: Counted,
    extra?: Subject,
  ): Promise<void> {
    const limiter = this.deps.rateLimiter;
    const { subject, own } = await countedAs(caller, ctx.clientIp, this.deps.keyLimits);
    let decision = await limiter.take(tier, subject, own);
    if (extra !== undefined && (decision === undefined || decision.allowed)) {
      // A clientId that failures exhausted refuses further attempts naming it, from any address.
      const named = await limiter.peek(tier, extra);
      if (named !== undefined && !named.allowed) decision = named;
    }
    if (decision === undefined) return;
    counted.decisions.push(decision);
    if (!decision.allowed) throw new Limited(tier, decision, `${subject.kind}:${subject.id}`);
  }

  /** Whether the request's credentials are present at all (they are checked when needed). */
  private static hasCredentials(ctx: RequestContext): boolean {
    const c = ctx.credentials;
    return c.authorization !== undefined || c.userToken !== undefined || c.boundToken !== undefined;
  }

  private async one(
    req: unknown,
    ctx: RequestContext,
    getCaller: () => Promise<Caller>,
    bindToken: ((token: string) => Promise<void>) | undefined,
    counted: Counted,
  ): Promise<RpcReply | undefined> {
    const started = performance.now();
    if (!isValidRequest(req)) {
      const id = isPlainObject(req) && validId(req.id) ? (req.id as Id) : null;
      this.log(ctx, "(invalid)", -32600, started);
      return errorReply(id, new AppError("rpc.invalid_request"));
    }
    const isNotification = !Object.hasOwn(req, "id");
    const id = isNotification ? null : (req.id as Id);
    const def = lookupMethod(req.method);
    let label = def?.name ?? "(unknown)";
    let reply: RpcReply;
    let internal: string | undefined;
    try {
      const tier = tierOf(req.method);
      if (tier !== undefined) {
        // Counted before anything is judged: per key when the credentials hold,
        // else (auth/*, no or bad credentials) per address.
        const known =
          tier !== "auth" && Dispatcher.hasCredentials(ctx) ? await getCaller().catch(() => undefined) : undefined;
        await this.count(tier, ctx, known, counted, namedClient(req.method, req.params));
      }
      if (def === undefined) throw new AppError("rpc.method_not_found");
      label = def.name;
      if (def.websocketOnly && ctx.transport !== "ws") throw new AppError("rpc.websocket_only");
      let caller: Caller | undefined;
      const publicRead = this.deps.pkiPublicRead && def.scope === "pki:read";
      if (def.scope !== null && !publicRead) {
        caller = await getCaller();
        if (!caller.scopes.includes(def.scope)) throw new AppError("auth.insufficient_scope");
      }
      const params = parseParams(def.params, req.params);
      const mctx: MethodContext = {
        clients: this.deps.clients,
        revocations: this.deps.revocations,
        caller,
        clientIp: ctx.clientIp,
        call: caller
          ? { requestId: ctx.requestId, callerKeyId: caller.apiKeyId, caller }
          : { requestId: ctx.requestId },
        tierLimits: this.deps.rateLimiter.limits,
        keyLimitsChanged: (apiKeyId, limits) => this.deps.keyLimits.set(apiKeyId, limits),
        bindToken,
      };
      reply = { jsonrpc: "2.0", id, result: await def.handle(params, mctx) };
    } catch (err) {
      if (err instanceof Limited) {
        counted.refused += 1;
        this.deps.metrics.limited();
        this.deps.refusals?.refused(err.client, err.tier);
        const { retryAfterSeconds: retryAfter, limit } = err.decision;
        reply = errorReply(id, new AppError("rpc.too_many_requests", { data: { retryAfter, tier: err.tier, limit } }));
        this.log(ctx, label, ErrorCatalogue["rpc.too_many_requests"].rpc, started);
        return isNotification ? undefined : reply;
      }
      const appErr = AppError.from(err);
      await this.countFailure(def?.name, req.params, appErr);
      if (appErr.code === "rpc.internal") internal = appErr.internal ?? "unknown";
      reply = errorReply(id, appErr);
    }
    this.log(ctx, label, "error" in reply ? reply.error.code : 0, started, internal);
    return isNotification ? undefined : reply;
  }

  /** A refused `auth/token` counts against the clientId it named, wherever it came from. */
  private async countFailure(method: string | undefined, params: unknown, err: AppError): Promise<void> {
    if (method !== TOKEN_METHOD) return;
    if (err.code !== "auth.invalid_credentials" && err.code !== "apikey.not_found") return;
    const named = namedClient(method, params);
    if (named !== undefined) await this.deps.rateLimiter.take("auth", named);
  }

  /** One line per request (also for bodies refused before parsing): never params, results, headers or credentials. */
  log(
    ctx: Pick<RequestContext, "requestId" | "transport" | "span">,
    method: string,
    code: number,
    started: number,
    internal?: string,
  ): void {
    const seconds = started === 0 ? 0 : (performance.now() - started) / 1000;
    const metricMethod = method.startsWith("(") || lookupMethod(method) ? method : "(unknown)";
    this.deps.metrics.observe(metricMethod, code, ctx.transport, seconds);
    if (ctx.span !== undefined) nameSpan(ctx.span, metricMethod, code);
    // The line of a request that went well is made only when someone reads it.
    if (internal === undefined && !this.deps.logger.isLevelEnabled("info")) return;
    const line = {
      requestId: ctx.requestId,
      transport: ctx.transport,
      method: metricMethod,
      code,
      durationMs: Math.round(seconds * 1000 * 100) / 100,
    };
    if (internal !== undefined) this.deps.logger.error({ ...line, err: internal }, "rpc request failed");
    else this.deps.logger.info(line, "rpc request");
  }
}

const TOKEN_METHOD = "auth/token";

/**
 * Names a traced HTTP request after its JSON-RPC method (OpenTelemetry's
 * JSON-RPC conventions: `rpc.system.name`, `rpc.method`, the error code as
 * `rpc.response.status_code`), so traces are told apart by what was called.
 */
function nameSpan(span: Span, method: string, code: number): void {
  span.updateName(`${RPC_SPAN_PREFIX} ${method}`);
  span.setAttributes({ "http.route": "/main", "rpc.system.name": "jsonrpc", "rpc.method": method });
  if (code !== 0) span.setAttributes({ "rpc.response.status_code": String(code), "error.type": String(code) });
}

/** The clientId an `auth/token` call names, as a counting subject (API.md section 9). */
function namedClient(method: string, params: unknown): Subject | undefined {
  if (method !== TOKEN_METHOD || !isPlainObject(params)) return undefined;
  const id = params.clientId;
  // Ids beyond the contract's length are refused by validation anyway; they name nobody.
  if (typeof id !== "string" || id.length < 1 || id.length > 128) return undefined;
  return { kind: "client", id };
}

function validId(id: unknown): boolean {
  return id === null || typeof id === "string" || typeof id === "number";
}

function isValidRequest(
  req: unknown,
): req is { jsonrpc: "2.0"; method: string; id?: string | number | null; params?: unknown } {
  if (!isPlainObject(req)) return false;
  if (req.jsonrpc !== "2.0" || typeof req.method !== "string") return false;
  if (Object.hasOwn(req, "id") && !validId(req.id)) return false;
  if (Object.hasOwn(req, "params") && (typeof req.params !== "object" || req.params === null)) return false;
  return true;
}
