import { randomBytes } from "node:crypto";
import * as apikey from "@pkiserver/apikey";
import * as audit from "@pkiserver/audit";
import * as auth from "@pkiserver/auth";
import * as gateway from "@pkiserver/gateway";
import {
  AppError,
  Closers,
  connectDeps,
  createLogger,
  type Logger,
  loadServiceEnv,
  type ServiceApp,
  type ServiceRegistration,
} from "@pkiserver/kit";
import * as pki from "@pkiserver/pki";
import { type DestinationStream, pino } from "pino";

export interface SystemOptions {
  env: Record<string, string | undefined>;
  /** Where log lines go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
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
  stop(): Promise<void>;
}

const LOOPBACK = { host: "127.0.0.1", port: 0 };
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
 * The embedded form: each service on its own loopback gRPC port (the same
 * code path as the distributed form), the gateway in front, one process.
 * MongoDB and NATS are used when PMX_MONGO_URL / PMX_NATS_URL are set.
 */
export async function startSystem(opts: SystemOptions): Promise<RunningSystem> {
  const env = { ...opts.env };
  // With no initialization token the operator wants a key printed at start.
  // A random token nobody sees lets this process, and only it, create that key.
  const printFirstKey = !env.PMX_INITIALIZATION_TOKEN;
  if (printFirstKey) env.PMX_INITIALIZATION_TOKEN = randomBytes(32).toString("base64url");

  const gatewayConfig = gateway.loadConfig(env);
  const settings = loadServiceEnv(env);
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
    const authConfig = auth.loadConfig(env);
    const connected = await connectDeps(settings, {
      logger,
      streamMaxAgeMs: { auth: auth.authStreamMaxAgeMs(authConfig) },
    });
    const { mongo, bus } = connected;
    closers.add(() => connected.close());
    const deps = (name: string) => ({
      logger: loggerFor(name),
      bus,
      listen: LOOPBACK,
      ...(mongo ? { mongo } : {}),
    });

    const apps: ServiceApp[] = [];
    const apikeyApp = await apikey.buildApp(apikey.loadConfig(env), deps("apikey"));
    apps.push(apikeyApp);
    closers.add(() => apikeyApp.stop());
    const authApp = await auth.buildApp(authConfig, {
      ...deps("auth"),
      apikey: localService(apikeyApp),
    });
    apps.push(authApp);
    closers.add(() => authApp.stop());
    const pkiApp = await pki.buildApp(pki.loadConfig(env), deps("pki"));
    apps.push(pkiApp);
    closers.add(() => pkiApp.stop());
    const auditApp = await audit.buildApp(audit.loadConfig(env), deps("audit"));
    apps.push(auditApp);
    closers.add(() => auditApp.stop());

    // The gateway and auth call the services in process (no HTTP/2 hop); their
    // gRPC ports still serve internal consumers.
    const services = gateway.createServiceClients({
      apikey: localService(apikeyApp),
      auth: localService(authApp),
      pki: localService(pkiApp),
      audit: localService(auditApp),
    });
    closers.add(async () => services.close());

    const app = await gateway.buildGateway({
      config: gatewayConfig,
      logger: loggerFor("gateway"),
      clients: services.clients,
      bus,
      readiness: async () => (await Promise.all(apps.map((a) => a.isReady()))).every(Boolean),
    });
    closers.add(() => app.close());
    await app.listen({ host: gatewayConfig.host, port: gatewayConfig.port });
    // The gateway refuses calls until every backend has answered; the URL is handed out once it serves.
    if (!(await untilReady(app, READY_TIMEOUT_MS))) {
      logger.warn({ waitedMs: READY_TIMEOUT_MS }, "gateway not ready yet; calls are refused until it is");
    }
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : gatewayConfig.port;
    const shownHost =
      gatewayConfig.host === "0.0.0.0" || gatewayConfig.host === "::" ? "localhost" : gatewayConfig.host;

    let firstKey: RunningSystem["firstKey"];
    if (printFirstKey) {
      try {
        firstKey = await services.clients.apikey.createFirstApiKey({
          initializationToken: env.PMX_INITIALIZATION_TOKEN as string,
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
      storage: [mongo ? "MongoDB" : "in-memory stores", env.PMX_NATS_URL ? "NATS" : "in-process events"].join(", "),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
