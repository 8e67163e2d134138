import { performance } from "node:perf_hooks";
import { isPlainObject, parseParams } from "@pkiserver/contract";
import { AppError, ErrorCatalogue, type Logger } from "@pkiserver/kit";
import type { Authenticator, Caller, Credentials } from "../auth/authenticate";
import type { RevocationCache } from "../auth/revocations";
import type { ServiceClients } from "../clients";
import { clientKey } from "../http/client-ip";
import type { GatewayMetrics } from "../http/metrics";
import type { RateLimiter } from "../http/rate-limit";
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
}

export interface DispatchResult {
  /** The reply (object or array) to send; undefined when nothing is to be sent. */
  readonly body: RpcReply | RpcReply[] | undefined;
  /** HTTP status when not 200: 429 over the rate limit (a -32000 reply gets 503 where it is sent). */
  readonly status?: number;
  /** Seconds until a retry may succeed, with status 429. */
  readonly retryAfterSeconds?: number;
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
      metrics: GatewayMetrics;
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
      const limited = await this.rateLimit(ctx, body.length, getCaller);
      if (limited !== undefined) return { body: limited.reply, status: 429, retryAfterSeconds: limited.retryAfter };
      const replies: RpcReply[] = [];
      for (const item of body) {
        const reply = await this.one(item, ctx, getCaller, bindToken);
        if (reply !== undefined) replies.push(reply);
      }
      return { body: replies.length > 0 ? replies : undefined };
    }

    const limited = await this.rateLimit(ctx, 1, getCaller);
    if (limited !== undefined) {
      const id = isPlainObject(body) && validId(body.id) ? (body.id as Id) : null;
      return { body: { ...limited.reply, id }, status: 429, retryAfterSeconds: limited.retryAfter };
    }
    return { body: await this.one(body, ctx, getCaller, bindToken) };
  }

  /** Takes `cost` from the caller's bucket: the API key's when the credentials hold, else the IP's. */
  private async rateLimit(
    ctx: RequestContext,
    cost: number,
    getCaller: () => Promise<Caller>,
  ): Promise<{ reply: RpcReply; retryAfter: number } | undefined> {
    const limiter = this.deps.rateLimiter;
    if (!limiter.enabled) return undefined;
    const c = ctx.credentials;
    let client = `ip:${clientKey(ctx.clientIp)}`;
    if (c.authorization !== undefined || c.userToken !== undefined || c.boundToken !== undefined) {
      try {
        client = `key:${(await getCaller()).apiKeyId}`;
      } catch {
        // Credentials that do not hold count against the address they came from.
      }
    }
    const decision = limiter.take(client, cost);
    if (decision.allowed) return undefined;
    this.deps.metrics.limited();
    this.log(ctx, "(rate-limited)", ErrorCatalogue["rpc.too_many_requests"].rpc, 0);
    const retryAfter = decision.retryAfterSeconds;
    return {
      reply: errorReply(null, new AppError("rpc.too_many_requests", { data: { retryAfter } })),
      retryAfter,
    };
  }

  private async one(
    req: unknown,
    ctx: RequestContext,
    getCaller: () => Promise<Caller>,
    bindToken: ((token: string) => Promise<void>) | undefined,
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
        call: { requestId: ctx.requestId, ...(caller ? { callerKeyId: caller.apiKeyId } : {}) },
        bindToken,
      };
      reply = { jsonrpc: "2.0", id, result: await def.handle(params, mctx) };
    } catch (err) {
      const appErr = AppError.from(err);
      if (appErr.code === "rpc.internal") internal = appErr.internal ?? "unknown";
      reply = errorReply(id, appErr);
    }
    this.log(ctx, label, "error" in reply ? reply.error.code : 0, started, internal);
    return isNotification ? undefined : reply;
  }

  /** One line per request (also for bodies refused before parsing): never params, results, headers or credentials. */
  log(
    ctx: Pick<RequestContext, "requestId" | "transport">,
    method: string,
    code: number,
    started: number,
    internal?: string,
  ): void {
    const seconds = started === 0 ? 0 : (performance.now() - started) / 1000;
    const metricMethod = method.startsWith("(") || lookupMethod(method) ? method : "(unknown)";
    this.deps.metrics.observe(metricMethod, code, ctx.transport, seconds);
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
