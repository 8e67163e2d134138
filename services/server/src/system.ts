import * as apikey from "@pkiserver/apikey";
import * as audit from "@pkiserver/audit";
import * as auth from "@pkiserver/auth";
import { tokenChecks } from "@pkiserver/contract";
import * as gateway from "@pkiserver/gateway";
import {
  AppError,
  type AuthKeySource,
  Closers,
  connectDeps,
  createLocalClient,
  createLogger,
  type EventBus,
  type Logger,
  type ServiceApp,
  type ServiceRegistration,
  type ServiceTarget,
  watchReadiness,
} from "@pkiserver/kit";
import * as pki from "@pkiserver/pki";
import { authV1 } from "@pkiserver/proto";
import type { FastifyInstance } from "fastify";
import { type DestinationStream, pino } from "pino";
import { loadSystemConfig, type SystemConfig } from "./config";

export type ServiceName = "apikey" | "auth" | "pki" | "audit";

export interface SystemOptions {
  /** The environment to configure from; ignored when `config` is given. */
  env?: Record<string, string | undefined>;
  /** Already loaded (and so validated) by `loadSystemConfig`. */
  config?: SystemConfig;
  /** Where log lines go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
  /**
   * Tests: where the gateway reaches a service, given the service's own
   * registration (by default that registration, called in process). When a
   * service is given as a gRPC address, the gateway's `/ready` probes the
   * addresses of its config (PMX_*_ADDR) instead of asking the services.
   */
  serviceTarget?: (name: ServiceName, registration: ServiceRegistration) => Promise<ServiceTarget>;
  /** Tests: runs once the services serve, before the gateway starts (e.g. to revoke a session it must load). */
  beforeGateway?: (clients: gateway.ServiceClients) => Promise<void>;
  /** Tests: the gateway's knobs beyond its config. */
  gatewayOptions?: Pick<gateway.GatewayOptions, "wsPingIntervalMs" | "backendLimits" | "drainTimeoutMs">;
  /** Tests: what pki's composition root may be given beyond its config (a clock, store wrappers). */
  pkiOptions?: pki.PkiAppOptions;
  /** How long to wait for the gateway to be ready before handing out its URL (30 s). */
  readyTimeoutMs?: number;
}

export interface RunningSystem {
  readonly url: string;
  readonly port: number;
  readonly logger: Logger;
  /** The key created at start when PMX_INITIALIZATION_TOKEN is unset and no key existed. */
  readonly firstKey: { apiKeyId: string; apiKeySecret: string } | undefined;
  /** Where state and events go, for the banner. */
  readonly storage: string;
  /** The transparency log's signed-note verifier key, for clients to pin. */
  readonly logVerifierKey: string | undefined;
  /** Where each service's gRPC port listens for internal consumers (PMX_*_LISTEN). */
  readonly grpc: { readonly apikey: string; readonly auth: string; readonly pki: string; readonly audit: string };
  /** The gateway's HTTP server, the event bus and the gateway's clients of the services (for tests). */
  readonly gateway: FastifyInstance;
  readonly bus: EventBus;
  readonly clients: gateway.ServiceClients;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

async function untilReady(
  app: { inject(opts: { method: "GET"; url: string }): Promise<{ statusCode: number }> },
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await app.inject({ method: "GET", url: "/ready" })).statusCode === 200) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The one service a service app serves, for an in-process client. */
function localService(app: ServiceApp): ServiceRegistration {
  const [registration] = app.grpc.services;
  if (registration === undefined) throw new Error(`${app.name} serves no gRPC service`);
  return registration;
}

/**
 * The embedded form: each service on its own gRPC port (PMX_*_LISTEN, the
 * documented loopback ports by default, `:0` for a free one) for internal
 * consumers, authenticated as in the distributed form; the gateway in front,
 * calling the services in process; one process. MongoDB and NATS are used
 * when PMX_MONGO_URL / PMX_NATS_URL are set.
 */
export async function startSystem(opts: SystemOptions): Promise<RunningSystem> {
  // Every component's configuration is checked before anything starts, all problems in one error.
  const config = opts.config ?? loadSystemConfig(opts.env ?? {});
  const { settings, printFirstKey } = config;
  const gatewayConfig = config.gateway;
  // One stream for all; each service logs under its own name, as it does alone.
  const destination = opts.logDestination ?? pino.destination({ dest: 1, sync: false });
  const loggerFor = (name: string) => createLogger({ name, level: settings.logLevel, destination });
  const logger = loggerFor("pkiserver");
  // Last started, first stopped: the gateway drains before the services stop, and they before the stores close.
  const closers = new Closers();
  const stopAll = async () => {
    await closers.close();
  };
  try {
    const authConfig = config.auth;
    const connected = await connectDeps(settings, {
      logger,
      streamMaxAgeMs: { auth: auth.authStreamMaxAgeMs(authConfig) },
    });
    const { mongo, bus } = connected;
    closers.add(() => connected.close());
    // One verifier of the tokens presented on the services' ports, fed by auth
    // in process once it runs (until then no token is trusted).
    let authKeys: AuthKeySource | undefined;
    const notYet = () => Promise.reject(new AppError("rpc.unavailable", { internal: "auth not started yet" }));
    const checks = tokenChecks(authConfig.tokenIdentity)({
      getSigningKeys: (req) => authKeys?.getSigningKeys(req) ?? notYet(),
    });
    const deps = (name: string, listen: { host: string; port: number }) => ({
      logger: loggerFor(name),
      bus,
      listen,
      tokens: checks.bearer,
      ...(mongo ? { mongo } : {}),
    });

    const apps: ServiceApp[] = [];
    const apikeyApp = await apikey.buildApp(config.apikey, deps("apikey", config.apikey.listen));
    apps.push(apikeyApp);
    closers.add(() => apikeyApp.stop());
    const authApp = await auth.buildApp(authConfig, {
      ...deps("auth", authConfig.listen),
      apikey: localService(apikeyApp),
    });
    apps.push(authApp);
    closers.add(() => authApp.stop());
    const pkiApp = await pki.buildApp(config.pki, deps("pki", config.pki.listen), opts.pkiOptions);
    apps.push(pkiApp);
    closers.add(() => pkiApp.stop());
    const auditApp = await audit.buildApp(config.audit, deps("audit", config.audit.listen));
    apps.push(auditApp);
    closers.add(() => auditApp.stop());

    // Each service's gRPC health (the server's and its service's) follows its
    // readiness, as it does in a process of its own.
    for (const a of apps) {
      const stopWatch = watchReadiness(
        a,
        a.grpc.services.map((s) => s.name),
      );
      closers.add(stopWatch);
    }

    // The gateway and auth call the services in process (no HTTP/2 hop); their
    // gRPC ports still serve internal consumers.
    const target =
      opts.serviceTarget ?? (async (_name: ServiceName, registration: ServiceRegistration) => registration);
    const targets = {
      apikey: await target("apikey", localService(apikeyApp)),
      auth: await target("auth", localService(authApp)),
      pki: await target("pki", localService(pkiApp)),
      audit: await target("audit", localService(auditApp)),
    };
    const services = gateway.createServiceClients(targets, gatewayConfig.grpcTls);
    closers.add(async () => services.close());
    // The services' verifier fetches auth's keys in process when it meets one it lacks.
    const authLocal = createLocalClient<authV1.AuthServiceServer>(
      localService(authApp),
      authV1.AuthServiceClient.serviceName,
    ).client;
    authKeys = authLocal;
    await opts.beforeGateway?.(services.clients);

    const inProcess = Object.values(targets).every((t) => typeof t !== "string");
    const app = await gateway.buildGateway({
      config: gatewayConfig,
      logger: loggerFor("gateway"),
      clients: services.clients,
      bus,
      ...(inProcess ? { readiness: async () => (await Promise.all(apps.map((a) => a.isReady()))).every(Boolean) } : {}),
      // Network channels without mutual TLS carry tokens only (see the gateway's Authenticator).
      credentialsThroughAuth: !inProcess && gatewayConfig.grpcTls === undefined,
      // The gateway keeps auth's keys and revocations current for the services' token checks too.
      tokenVerifier: checks.verifier,
      revocations: checks.cache,
      ...opts.gatewayOptions,
    });
    closers.add(() => app.close());
    await app.listen({ host: gatewayConfig.host, port: gatewayConfig.port });
    // The gateway refuses calls until every backend has answered; the URL is handed out once it serves.
    const readyTimeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS;
    if (!(await untilReady(app, readyTimeoutMs))) {
      logger.warn({ waitedMs: readyTimeoutMs }, "gateway not ready yet; calls are refused until it is");
    }
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : gatewayConfig.port;
    const shownHost =
      gatewayConfig.host === "0.0.0.0" || gatewayConfig.host === "::" ? "localhost" : gatewayConfig.host;

    let firstKey: RunningSystem["firstKey"];
    if (printFirstKey) {
      try {
        firstKey = await services.clients.apikey.createFirstApiKey({
          initializationToken: config.initializationToken,
          name: "first key",
        });
      } catch (err) {
        // Keys already stored (a restart against MongoDB): nothing to print.
        if (!(err instanceof AppError && err.code === "apikey.first_key_exists")) throw err;
      }
    }
    return {
      url: `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${port}`,
      port,
      logger,
      firstKey,
      logVerifierKey: pkiApp.logVerifierKey,
      grpc: {
        apikey: apikeyApp.grpc.address,
        auth: authApp.grpc.address,
        pki: pkiApp.grpc.address,
        audit: auditApp.grpc.address,
      },
      storage: [mongo ? "MongoDB" : "in-memory stores", settings.natsUrl ? "NATS" : "in-process events"].join(", "),
      gateway: app,
      bus,
      clients: services.clients,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
