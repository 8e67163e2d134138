import { randomUUID } from "node:crypto";
import cors from "@fastify/cors";
import websocket from "@fastify/websocket";
import { trace } from "@opentelemetry/api";
import {
  createJwksTokenVerifier,
  isKeyedTokenVerifier,
  RevocationCache,
  type TokenVerifier,
} from "@pkiserver/contract";
import {
  AppError,
  type EventBus,
  Events,
  HttpErrors,
  type Logger,
  processMetricsRegistry,
  publishAuthFailure,
  RateLimitRefusals,
  type SyncHandle,
  startRevocationSync,
  startSigningKeySync,
} from "@pkiserver/kit";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from "fastify";
import { Registry } from "prom-client";
import { Authenticator, type CredentialChecker, type Credentials, checkedByAuth } from "./auth/authenticate";
import { KeyLimitsCache, keyLimitsOf } from "./auth/key-limits";
import { CheckpointCache, startCheckpointSync } from "./backend/checkpoint-cache";
import { AdaptiveLimiter, type LimiterOptions, limitClients } from "./backend/limiter";
import type { ServiceClients } from "./clients";
import type { GatewayConfig } from "./config";
import { registerAuditExport } from "./http/audit-export";
import { ClientIpResolver } from "./http/client-ip";
import { ConnectionLimiter } from "./http/connection-limit";
import { createHealthProbe, type HealthProbe } from "./http/health-probe";
import { InFlight } from "./http/in-flight";
import { registerLogRoutes } from "./http/log-routes";
import { GatewayMetrics } from "./http/metrics";
import { registerOAuthRoutes } from "./http/oauth-routes";
import { type CounterStore, HttpAdmission, MemoryCounterStore, RateLimiter } from "./http/rate-limit";
import { type Checks, isUnavailable, Readiness, UNAVAILABLE_RETRY_AFTER_S, unavailableReply } from "./http/readiness";
import { RedisCounterStore } from "./http/redis-counter-store";
import { Dispatcher, type DispatchResult, errorReply, parseError, type RpcReply } from "./rpc/dispatch";
import { openRpc } from "./rpc/methods";
import { Heartbeat, serveConnection, warnFrameOnce } from "./ws/connection";

export const BODY_LIMIT = 1024 * 1024;
const RPC_PATH = "/main";
const REQUEST_ID_RE = /^[A-Za-z0-9\-_.]{1,128}$/;

export interface GatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  clients: ServiceClients;
  bus: EventBus;
  /**
   * Verifies access tokens. When it can take keys (`setKeys`), the gateway
   * keeps them equal to auth's signing keys; by default an EdDSA JWS verifier.
   */
  tokenVerifier?: TokenVerifier;
  /**
   * The revocations the gateway keeps current and checks tokens against; its
   * own by default. The one-process form passes the one its services' token
   * checks use (with their verifier), so one cache and one follower of auth serve both.
   */
  revocations?: RevocationCache;
  /** Replaces the gRPC health checks of the services in `/ready`. */
  readiness?: () => Promise<boolean>;
  /** WebSocket ping interval; `config.wsPingIntervalMs` (10 s) by default. */
  wsPingIntervalMs?: number;
  /** Bounds on the calls in flight to each backend (tests make them small). */
  backendLimits?: LimiterOptions;
  /**
   * The services are reached over the network without mutual TLS: they take
   * no caller the gateway states, only access tokens, so Basic and signed
   * credentials are checked by auth, which answers with a token to forward.
   */
  credentialsThroughAuth?: boolean;
  /**
   * On close, how long requests in flight may take to finish (5 s); then
   * every connection still open is dropped.
   */
  drainTimeoutMs?: number;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value === "application/json") return true;
  return (value.split(";")[0] ?? "").trim().toLowerCase() === "application/json";
}

function sendRpc(reply: FastifyReply, result: DispatchResult): FastifyReply {
  if (result.status !== undefined) reply.code(result.status);
  else if (isUnavailable(result.body)) reply.code(503);
  if (result.retryAfterSeconds !== undefined) reply.header("retry-after", String(result.retryAfterSeconds));
  else if (isUnavailable(result.body)) {
    // API.md section 7: a call no backend could serve is HTTP 503, so clients and proxies retry.
    reply.header("retry-after", String(UNAVAILABLE_RETRY_AFTER_S));
  }
  if (result.rateLimit !== undefined) {
    reply.header("ratelimit-limit", String(result.rateLimit.limit));
    reply.header("ratelimit-remaining", String(result.rateLimit.remaining));
    reply.header("ratelimit-reset", String(result.rateLimit.resetSeconds));
  }
  if (result.body === undefined) return reply.code(204).send();
  return reply.type("application/json").send(JSON.stringify(result.body));
}

/**
 * Answers a request with 429 or 503, `Retry-After` and a JSON-RPC error,
 * before any route runs; `close` ends the connection after the answer. A
 * WebSocket upgrade request owns its socket outright, so that socket is
 * destroyed once the answer is written.
 */
function refuse(
  req: FastifyRequest,
  reply: FastifyReply,
  status: 429 | 503,
  retryAfterSeconds: number,
  body: RpcReply,
  close: boolean,
) {
  if (req.headers.upgrade !== undefined) reply.raw.once("finish", () => req.socket.destroy());
  else if (close) reply.header("connection", "close");
  return reply
    .code(status)
    .header("retry-after", String(retryAfterSeconds))
    .type("application/json")
    .send(JSON.stringify(body));
}

/** Builds the gateway app (not listening): JSON-RPC over HTTP and WebSocket at /main, probes, metrics. */
export async function buildGateway(opts: GatewayOptions): Promise<FastifyInstance> {
  const { config, logger, bus } = opts;
  const metrics = new GatewayMetrics();
  // Requests reach the services through per-service limiters, so a saturated
  // service sheds calls promptly (-32000) instead of queueing them into timeouts.
  // The background syncs below use the plain clients: they must never be shed.
  const limiters = {
    apikey: new AdaptiveLimiter(opts.backendLimits),
    auth: new AdaptiveLimiter(opts.backendLimits),
    pki: new AdaptiveLimiter(opts.backendLimits),
    audit: new AdaptiveLimiter(opts.backendLimits),
  };
  metrics.trackBackends(limiters);
  const limited = limitClients(opts.clients, limiters);
  // The log's checkpoint comes from the sequencer's announcements, pki being asked only when none is fresh.
  const checkpoints = new CheckpointCache((o) => limited.pki.getCheckpoint({}, o));
  const checkpointSync = startCheckpointSync({
    bus,
    cache: checkpoints,
    logger: logger.child({ component: "log-sync" }),
  });
  const pki: ServiceClients["pki"] = { ...limited.pki };
  pki.getCheckpoint = (_req, o) => checkpoints.get(o);
  const clients: ServiceClients = { ...limited, pki };
  const revocations = opts.revocations ?? new RevocationCache();
  const verifier =
    opts.tokenVerifier ??
    createJwksTokenVerifier({
      identity: config.tokenIdentity,
      fetchKeys: async () => (await opts.clients.auth.getSigningKeys({})).keys,
    });
  const syncLogger = logger.child({ component: "auth-sync" });
  // Token callers' own rate limits, fetched once per key and then kept current by the key events.
  const keyLimits = new KeyLimitsCache(async (apiKeyId) => {
    const res = await opts.clients.apikey.getApiKey({ apiKeyId });
    return res.apiKey === undefined ? undefined : keyLimitsOf(res.apiKey.rateLimits);
  });
  const revocationSync = startRevocationSync({
    auth: opts.clients.auth,
    bus,
    cache: revocations,
    logger: syncLogger,
    onKeyChange: (change) =>
      change.deleted
        ? keyLimits.delete(change.apiKeyId)
        : keyLimits.set(change.apiKeyId, change.rateLimits === undefined ? undefined : keyLimitsOf(change.rateLimits)),
  });
  const keySync: SyncHandle | undefined = isKeyedTokenVerifier(verifier)
    ? startSigningKeySync({ auth: opts.clients.auth, bus, verifier, logger: syncLogger })
    : undefined;

  // Without mutual TLS the services accept no stated caller: Basic and signed
  // credentials are checked through auth, which answers with a request token to forward.
  const credentials: CredentialChecker = opts.credentialsThroughAuth ? checkedByAuth(clients.auth) : clients.apikey;
  const authenticator = new Authenticator({
    apikey: clients.apikey,
    credentials,
    verifier,
    revocations,
    revocationsLoaded: async () => {
      if (revocations.isLoaded()) return true;
      // Until auth's revocation list is known no token can be trusted; wait briefly for it.
      const timeout = new Promise<false>((r) => setTimeout(() => r(false), 5000).unref());
      return Promise.race([revocationSync.loaded.then(() => revocations.isLoaded()), timeout]);
    },
    onFailure: (f) => {
      publishAuthFailure(bus, Events.requestAuthFailed, f).catch((err: unknown) =>
        logger.warn({ requestId: f.requestId, err: String(err) }, "auth.failed event not published"),
      );
    },
  });
  for (const warning of config.deprecations) logger.warn(warning);
  const counters: CounterStore =
    config.redisUrl === undefined
      ? new MemoryCounterStore()
      : new RedisCounterStore(config.redisUrl, {
          logger: logger.child({ component: "rate-limit" }),
          onFailure: () => metrics.rateLimitStoreFailed(),
        });
  const rateLimiter = new RateLimiter(counters, config.rateLimits);
  // Refusals reach the audit log as one event per client, tier and minute, so a flood cannot flood it.
  const refusals = RateLimitRefusals.onBus(bus, Events.rateLimitRefused);
  refusals.start();
  const dispatcher = new Dispatcher({
    clients,
    authenticator,
    revocations,
    rateLimiter,
    refusals,
    keyLimits,
    metrics,
    logger,
    pkiPublicRead: config.pkiPublicRead,
  });
  const clientIps = new ClientIpResolver(config.trustedProxies);
  const clientIpOf = (req: FastifyRequest) => clientIps.resolveFor(req.socket, req.headers["x-forwarded-for"]);
  const heartbeat = new Heartbeat(opts.wsPingIntervalMs ?? config.wsPingIntervalMs);
  const probes: Record<string, HealthProbe> | undefined = opts.readiness
    ? undefined
    : {
        apikey: createHealthProbe(config.apikeyAddr, config.grpcTls),
        auth: createHealthProbe(config.authAddr, config.grpcTls),
        pki: createHealthProbe(config.pkiAddr, config.grpcTls),
        audit: createHealthProbe(config.auditAddr, config.grpcTls),
      };
  const readiness = new Readiness(async () => {
    const checks: Checks = {};
    if (opts.readiness) {
      checks.services = await opts.readiness().catch(() => false);
    } else if (probes) {
      const names = Object.keys(probes);
      const results = await Promise.all(names.map((n) => (probes[n] as HealthProbe).check(1000)));
      names.forEach((n, i) => {
        checks[n] = results[i] === true;
      });
    }
    checks.bus = bus.isReady();
    checks.signingKeys = keySync === undefined || keySync.isLoaded();
    checks.revocations = revocationSync.isLoaded();
    return checks;
  });
  readiness.start();

  const app = Fastify({
    loggerInstance: logger,
    // API.md section 8: a client that is slow to send its headers or body is
    // answered 408 and its connection closed, so it cannot hold a socket and
    // a buffered body for ever. Node checks the deadlines on a timer; it runs
    // often enough that a deadline is kept to within a tenth of itself (1 s at most).
    requestTimeout: config.requestTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(
        10,
        Math.min(1000, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs) / 10)),
      ),
    },
    // One line per JSON-RPC request is written by the dispatcher instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Fastify would make a child logger per request (bindings serialised,
    // redaction paths compiled) for nobody: the gateway's own lines carry the
    // request id themselves.
    childLoggerFactory: (logger) => logger,
    // Calls that arrive while the gateway drains are answered -32000 by the route itself.
    return503OnClosing: false,
    bodyLimit: BODY_LIMIT,
    genReqId: (req) => {
      const incoming = req.headers["x-request-id"];
      return typeof incoming === "string" && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
    },
  }) as unknown as FastifyInstance;

  const connections = new ConnectionLimiter({
    max: config.maxConnectionsPerClient,
    resolver: clientIps,
    onRefused: () => metrics.connectionRefused(),
  });
  connections.attach(app.server);

  // A callback hook rather than an async one: it runs on every request and has nothing to await.
  app.addHook("onRequest", (req, reply, done) => {
    reply.header("x-request-id", req.id);
    const admission = connections.admit(req.socket, clientIpOf(req));
    if (admission.refused) {
      // A connection is freed when the client closes one; a second is a fair guess.
      const retryAfter = 1;
      const body = errorReply(null, new AppError("rpc.too_many_requests", { data: { retryAfter } }));
      // Answered here: the route does not run (done is not called).
      refuse(req, reply, 429, retryAfter, body, admission.close);
      return;
    }
    // The response (or, for a WebSocket, its socket) closes when the request is over.
    if (admission.release) reply.raw.once("close", admission.release);
    done();
  });
  // Shutdown: stop accepting (the server stops listening, calls on open
  // connections get -32000), let what is in flight finish, and only then let
  // the caller close the service clients and the stores behind them.
  const inFlight = new InFlight();
  const drainMs = opts.drainTimeoutMs ?? 5000;
  let closing = false;
  let drainDeadline: NodeJS.Timeout | undefined;
  let drainEndsAt = 0;
  app.addHook("preClose", async () => {
    closing = true;
    readiness.beginShutdown();
    drainEndsAt = Date.now() + drainMs;
    drainDeadline = setTimeout(() => {
      // Clients still sending, or not answering the WebSocket close, are not waited for.
      app.server.closeAllConnections();
      heartbeat.terminateAll();
    }, drainMs);
    drainDeadline.unref();
  });
  // A callback hook, not an async one: it runs on every reply (no promise per reply for a flag).
  app.addHook("onSend", (_req, reply, payload, done) => {
    // A kept-alive connection would otherwise hold the server open after its last answer.
    if (closing) reply.header("connection", "close");
    done(null, payload);
  });
  app.addHook("onClose", async () => {
    // Runs once every connection has closed; a request whose client hung up may still be running.
    const left = Math.max(0, drainEndsAt - Date.now());
    if (!(await inFlight.idle(left))) logger.warn({ drainMs }, "requests still in flight after the shutdown grace");
    clearTimeout(drainDeadline);
    readiness.stop();
    heartbeat.stop();
    // The last minutes' refusals go to the audit log before the bus is closed.
    await refusals.stop();
    await revocationSync.stop();
    await checkpointSync.stop();
    await counters.close?.();
    await keySync?.stop();
    for (const p of Object.values(probes ?? {})) p.close();
  });

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes("*") ? "*" : config.corsOrigins,
      methods: ["GET", "POST"],
      allowedHeaders: ["Content-Type", "Authorization", "X-User-Token", "X-Request-Id"],
      exposedHeaders: ["X-Request-Id", "Retry-After"],
    });
  }
  await app.register(websocket, {
    options: { maxPayload: BODY_LIMIT },
    errorHandler: (err: Error & { code?: string }, socket, req) => {
      // ws has already sent the close frame with the right code (1007 invalid
      // UTF-8, 1009 too big, 1002 otherwise) and ends the connection itself.
      if (err.code?.startsWith("WS_ERR_")) {
        warnFrameOnce(logger, socket, { requestId: req.id, clientIp: clientIpOf(req), reason: err.code });
        return;
      }
      // A transport error (a peer that vanished): nothing the client did wrong on purpose.
      logger.debug({ requestId: req.id, err: err.message }, "websocket error");
      socket.terminate();
    },
  });

  // The raw bytes are kept as they came: a signed request's signature covers them exactly.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err.statusCode === 413) {
      const body = errorReply(null, new AppError("rpc.invalid_request", { data: "Request body too large" }));
      return reply.code(413).type("application/json").send(JSON.stringify(body));
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).type("application/json").send(JSON.stringify(parseError()));
    }
    logger.error({ requestId: req.id, err: err.message }, "unhandled error");
    const body = errorReply(null, new AppError("rpc.internal"));
    return reply.code(200).type("application/json").send(JSON.stringify(body));
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: HttpErrors[404] }));

  const credentialsOf = (req: FastifyRequest, signed?: Credentials["signed"]): Credentials => ({
    authorization: header(req, "authorization"),
    userToken: header(req, "x-user-token"),
    signed,
  });
  const onlyPost = (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type("application/json").send(JSON.stringify(errorReply(null, new AppError("rpc.only_post"))));

  app.post(RPC_PATH, async (req, reply) => {
    // The HTTP server span, when tracing is on (undefined otherwise): the dispatcher names it.
    const span = trace.getActiveSpan();
    if (!isJsonContentType(header(req, "content-type"))) {
      dispatcher.log({ requestId: req.id, transport: "http", span }, "(content-type)", -32700, 0);
      return sendRpc(reply, { body: parseError("Invalid Content-Type") });
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!readiness.serving) {
      dispatcher.log({ requestId: req.id, transport: "http", span }, "(unavailable)", -32000, 0);
      return sendRpc(reply, { body: unavailableReply(body) });
    }
    const result = await inFlight.run(() =>
      dispatcher.handle(body, {
        requestId: req.id,
        transport: "http",
        span,
        clientIp: clientIpOf(req),
        credentials: credentialsOf(req, { method: req.method, uri: req.raw.url ?? req.url, body }),
      }),
    );
    return sendRpc(reply, result);
  });

  app.route({
    method: "GET",
    url: RPC_PATH,
    handler: onlyPost,
    onRequest: async (req, reply) => {
      if (req.headers.upgrade === undefined || readiness.serving) return;
      const body = errorReply(null, new AppError("rpc.unavailable"));
      return refuse(req, reply, 503, UNAVAILABLE_RETRY_AFTER_S, body, false);
    },
    wsHandler: (socket, req) => {
      metrics.wsOpened();
      heartbeat.add(socket);
      serveConnection({
        socket,
        dispatcher: { handle: (raw, ctx) => inFlight.run(() => dispatcher.handle(raw, ctx)) },
        accepting: () => readiness.serving,
        authenticator,
        clientIp: clientIpOf(req),
        headers: credentialsOf(req),
        logger,
        onClose: () => metrics.wsClosed(),
      });
    },
  });
  // OPTIONS belongs to the CORS preflight when CORS is on.
  const otherMethods = ["PUT", "DELETE", "PATCH", ...(config.corsOrigins.length > 0 ? [] : ["OPTIONS"])];
  app.route({ method: otherMethods as ("PUT" | "DELETE" | "PATCH" | "OPTIONS")[], url: RPC_PATH, handler: onlyPost });

  // The log's files and the audit export count like JSON-RPC methods: per key, with the key's own limits.
  const admission = new HttpAdmission({ limiter: rateLimiter, keyLimits, refusals });
  registerAuditExport(app, { authenticator, clients, credentialsOf, clientIpOf, logger, admission });
  registerLogRoutes(app, {
    pki: clients.pki,
    authenticator,
    pkiPublicRead: config.pkiPublicRead,
    clientIpOf,
    admission,
  });

  app.get("/health", async (_req, reply) => reply.send({ status: "ok" }));

  // The OpenRPC document, as `rpc.discover` answers it; no credentials needed.
  app.get("/openrpc.json", async (_req, reply) => reply.type("application/json").send(JSON.stringify(openRpc())));

  registerOAuthRoutes(app, {
    auth: clients.auth,
    credentials,
    revocations,
    identity: config.tokenIdentity,
    logger,
    clientIpOf,
    rateLimiter,
  });

  app.get("/ready", async (_req, reply) => {
    const { ok, checks } = await readiness.report();
    if (ok) return reply.send({ status: "ok" });
    return reply.code(503).send({ status: "error", checks });
  });

  // The gateway's own metrics and the process's (unprefixed Node and process
  // metrics; in the embedded form also the services' gRPC server metrics).
  const exposed = [metrics.registry, processMetricsRegistry()];
  app.get("/metrics", async (_req, reply) => {
    const registry = Registry.merge(exposed);
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  return app;
}
