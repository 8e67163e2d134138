import { randomUUID } from "node:crypto";
import cors from "@fastify/cors";
import websocket from "@fastify/websocket";
import { AppError, type EventBus, type Logger } from "@pkiserver/kit";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from "fastify";
import { Authenticator, type Credentials } from "./auth/authenticate";
import { RevocationCache } from "./auth/revocations";
import { type SyncHandle, startRevocationSync, startSigningKeySync } from "./auth/sync";
import { createJwksTokenVerifier, isKeyedTokenVerifier, type TokenVerifier } from "./auth/token-verifier";
import { AdaptiveLimiter, type LimiterOptions, limitClients } from "./backend/limiter";
import type { ServiceClients } from "./clients";
import type { GatewayConfig } from "./config";
import { ClientIpResolver } from "./http/client-ip";
import { createHealthProbe, type HealthProbe } from "./http/health-probe";
import { registerLogRoutes } from "./http/log-routes";
import { GatewayMetrics } from "./http/metrics";
import { RateLimiter } from "./http/rate-limit";
import { Dispatcher, type DispatchResult, errorReply, parseError } from "./rpc/dispatch";
import { Heartbeat, serveConnection } from "./ws/connection";

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
  /** Replaces the gRPC health checks of the three services in `/ready`. */
  readiness?: () => Promise<boolean>;
  /** WebSocket ping interval; `config.wsPingIntervalMs` (10 s) by default. */
  wsPingIntervalMs?: number;
  /** Bounds on the calls in flight to each backend (tests make them small). */
  backendLimits?: LimiterOptions;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  return (value.split(";")[0] ?? "").trim().toLowerCase() === "application/json";
}

function sendRpc(reply: FastifyReply, result: DispatchResult): FastifyReply {
  if (result.status !== undefined) reply.code(result.status);
  if (result.retryAfterSeconds !== undefined) reply.header("retry-after", String(result.retryAfterSeconds));
  if (result.body === undefined) return reply.code(204).send();
  return reply.type("application/json").send(JSON.stringify(result.body));
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
  };
  metrics.trackBackends(limiters);
  const clients = limitClients(opts.clients, limiters);
  const revocations = new RevocationCache();
  const verifier =
    opts.tokenVerifier ??
    createJwksTokenVerifier({ fetchKeys: async () => (await opts.clients.auth.getSigningKeys({})).keys });
  const syncLogger = logger.child({ component: "auth-sync" });
  const revocationSync = startRevocationSync({ auth: opts.clients.auth, bus, cache: revocations, logger: syncLogger });
  const keySync: SyncHandle | undefined = isKeyedTokenVerifier(verifier)
    ? startSigningKeySync({ auth: opts.clients.auth, bus, verifier, logger: syncLogger })
    : undefined;

  const authenticator = new Authenticator({
    apikey: clients.apikey,
    verifier,
    revocations,
    revocationsLoaded: async () => {
      if (revocations.isLoaded()) return true;
      // Until auth's revocation list is known no token can be trusted; wait briefly for it.
      const timeout = new Promise<false>((r) => setTimeout(() => r(false), 5000).unref());
      return Promise.race([revocationSync.loaded.then(() => revocations.isLoaded()), timeout]);
    },
  });
  const dispatcher = new Dispatcher({
    clients,
    authenticator,
    revocations,
    rateLimiter: new RateLimiter(config.rateLimitPerMinute),
    metrics,
    logger,
    pkiPublicRead: config.pkiPublicRead,
  });
  const clientIps = new ClientIpResolver(config.trustedProxies);
  const heartbeat = new Heartbeat(opts.wsPingIntervalMs ?? config.wsPingIntervalMs);
  const probes: Record<string, HealthProbe> | undefined = opts.readiness
    ? undefined
    : {
        apikey: createHealthProbe(config.apikeyAddr),
        auth: createHealthProbe(config.authAddr),
        pki: createHealthProbe(config.pkiAddr),
      };

  const app = Fastify({
    loggerInstance: logger,
    // One line per JSON-RPC request is written by the dispatcher instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    genReqId: (req) => {
      const incoming = req.headers["x-request-id"];
      return typeof incoming === "string" && REQUEST_ID_RE.test(incoming) ? incoming : randomUUID();
    },
  }) as unknown as FastifyInstance;

  app.addHook("onRequest", async (req, reply) => {
    reply.header("x-request-id", req.id);
  });
  app.addHook("onClose", async () => {
    heartbeat.stop();
    await revocationSync.stop();
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
  await app.register(websocket, { options: { maxPayload: BODY_LIMIT } });

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
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: "Not Found" }));

  const credentialsOf = (req: FastifyRequest): Credentials => ({
    authorization: header(req, "authorization"),
    userToken: header(req, "x-user-token"),
  });
  const clientIpOf = (req: FastifyRequest) =>
    clientIps.resolve(req.socket.remoteAddress, req.headers["x-forwarded-for"]);
  const onlyPost = (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type("application/json").send(JSON.stringify(errorReply(null, new AppError("rpc.only_post"))));

  app.post(RPC_PATH, async (req, reply) => {
    if (!isJsonContentType(header(req, "content-type"))) {
      dispatcher.log({ requestId: req.id, transport: "http" }, "(content-type)", -32700, 0);
      return sendRpc(reply, { body: parseError("Invalid Content-Type") });
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const result = await dispatcher.handle(body, {
      requestId: req.id,
      transport: "http",
      clientIp: clientIpOf(req),
      credentials: { ...credentialsOf(req), signed: { method: req.method, uri: req.raw.url ?? req.url, body } },
    });
    return sendRpc(reply, result);
  });

  app.route({
    method: "GET",
    url: RPC_PATH,
    handler: onlyPost,
    wsHandler: (socket, req) => {
      metrics.wsOpened();
      heartbeat.add(socket);
      serveConnection({
        socket,
        dispatcher,
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

  registerLogRoutes(app, { pki: clients.pki, authenticator, pkiPublicRead: config.pkiPublicRead, clientIpOf });

  app.get("/health", async (_req, reply) => reply.send({ status: "ok" }));

  app.get("/ready", async (_req, reply) => {
    const checks: Record<string, "ok" | "error"> = {};
    const verdict = (ok: boolean) => (ok ? "ok" : "error");
    if (opts.readiness) {
      checks.services = verdict(await opts.readiness().catch(() => false));
    } else if (probes) {
      const names = Object.keys(probes);
      const results = await Promise.all(names.map((n) => (probes[n] as HealthProbe).check(1000)));
      names.forEach((n, i) => {
        checks[n] = verdict(results[i] === true);
      });
    }
    checks.bus = verdict(bus.isReady());
    checks.signingKeys = verdict(keySync === undefined || keySync.isLoaded());
    checks.revocations = verdict(revocationSync.isLoaded());
    if (Object.values(checks).every((c) => c === "ok")) return reply.send({ status: "ok" });
    return reply.code(503).send({ status: "error", checks });
  });

  app.get("/metrics", async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  return app;
}
