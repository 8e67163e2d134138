import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServiceClients, type GatewayOptions, type ServiceClients } from "@pkiserver/gateway";
import { type EventBus, type GrpcServerHandle, type ServiceRegistration, startGrpcServer } from "@pkiserver/kit";
import type { PkiAppOptions } from "@pkiserver/pki";
import { apikeyV1, type authV1 } from "@pkiserver/proto";
import { freePort, type RunningSystem, type ServiceName, startSystem, writeDevTls } from "@pkiserver/server";
import type { FastifyInstance } from "fastify";
import { type Tap, tapRegistration } from "./tap";

/** The initialization token of every test system (for `auth/createFirstApiKey`). */
export const INITIALIZATION_TOKEN = "init-token";

const SERVICES: readonly ServiceName[] = ["apikey", "auth", "pki", "audit"];

export interface TestSystemOptions {
  /** Settings beyond the defaults (loopback, port 0, every tier limit off, pki following PMX_RATE_LIMIT_PER_MINUTE). */
  env?: Record<string, string>;
  gateway?: Pick<GatewayOptions, "wsPingIntervalMs" | "backendLimits" | "drainTimeoutMs">;
  /**
   * "in-process" (default): the gateway calls the services in process, as the
   * embedded form does. "grpc": over loopback gRPC, so a test can take the
   * services away (`stopServices`) and bring them back while the gateway runs.
   */
  transport?: "in-process" | "grpc";
  /** With "grpc": the gateway starts first; the services serve once the test calls startServices(). */
  servicesLater?: boolean;
  /**
   * With "grpc": mutual TLS between the gateway and the services (default
   * true). Without it the services accept access tokens only, and the gateway
   * has auth check Basic and signed credentials for a token to forward.
   */
  mutualTls?: boolean;
  /** What pki is built with beyond its config: a clock, or store wrappers that inject faults. */
  pki?: PkiAppOptions;
  /** Runs with clients of the services before the gateway starts. */
  beforeGateway?: (services: ServiceClients) => Promise<void>;
}

export interface TestKey {
  apiKeyId: string;
  /** Basic credentials, for a secret key. */
  basic: string;
}

export interface TestSystem extends Tap {
  readonly url: string;
  readonly rpcUrl: string;
  readonly wsUrl: string;
  readonly app: FastifyInstance;
  readonly bus: EventBus;
  /** Every line the services and the gateway logged, parsed. */
  readonly logLines: Record<string, unknown>[];
  /** Clients of the services for a test's own setup: not recorded, not held, not stopped with stopServices(). */
  readonly services: ServiceClients;
  /** Adds an API key through the apikey service (as a caller holding every scope). */
  addKey(opts: TestKeyOptions): Promise<TestKey>;
  /** Tokens from auth for a secret key (client_credentials); `scope` may carry modifiers such as `ipAddr:` or `expiresIn:`. */
  token(key: { apiKeyId: string; secret: string }, scope?: string[], clientIp?: string): Promise<authV1.TokenPair>;
  /** Serves the services to the gateway (with servicesLater), or again after stopServices(). */
  startServices(): Promise<void>;
  /** Takes the services' gRPC endpoints away, as if they had gone down, leaving the gateway running ("grpc" only). */
  stopServices(): Promise<void>;
  close(): Promise<void>;
}

export interface TestKeyOptions {
  maxScope: string[];
  secret?: string;
  publicKeyPem?: string;
  rateLimits?: apikeyV1.RateLimits;
  name?: string;
}

/** Adds an API key through the apikey service, as a caller holding every scope. */
export async function addTestKey(services: Pick<ServiceClients, "apikey">, key: TestKeyOptions): Promise<TestKey> {
  const { apiKeyId } = await services.apikey.addApiKey({
    name: key.name ?? `key-${randomUUID().slice(0, 8)}`,
    type:
      key.publicKeyPem === undefined
        ? apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET
        : apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY,
    ...(key.secret === undefined ? {} : { clientSecret: key.secret }),
    ...(key.publicKeyPem === undefined ? {} : { clientPublicKey: key.publicKeyPem }),
    maxScope: key.maxScope,
    ...(key.rateLimits === undefined ? {} : { rateLimits: key.rateLimits }),
  });
  return { apiKeyId, basic: `Basic ${Buffer.from(`${apiKeyId}:${key.secret ?? ""}`).toString("base64")}` };
}

/** Tokens from auth for a secret key (client_credentials); `scope` may carry modifiers such as `ipAddr:` or `expiresIn:`. */
export async function issueTestToken(
  services: Pick<ServiceClients, "auth">,
  key: { apiKeyId: string; secret: string },
  scope: string[] = [],
  clientIp = "127.0.0.1",
): Promise<authV1.TokenPair> {
  const { token } = await services.auth.issueToken({
    grant: { $case: "clientCredentials", value: { clientId: key.apiKeyId, clientSecret: key.secret, scope } },
    clientIp,
  });
  if (token === undefined) throw new Error("auth issued no token");
  return token;
}

/** Runs `body` against a test system of its own, started with `opts`, and closes the system after it. */
export async function withTestSystem<T>(opts: TestSystemOptions, body: (gw: TestSystem) => Promise<T>): Promise<T> {
  const gw = await startTestSystem(opts);
  try {
    return await body(gw);
  } finally {
    await gw.close();
  }
}

/**
 * The real apikey, auth, pki and audit services with memory stores and an
 * in-process event bus, behind a gateway on port 0: the embedded form as
 * `startSystem` builds it, with every call to a service recorded.
 */
export async function startTestSystem(opts: TestSystemOptions = {}): Promise<TestSystem> {
  const grpc = opts.transport === "grpc";
  if (opts.servicesLater && !grpc) throw new Error("servicesLater needs the grpc transport");
  const logLines: Record<string, unknown>[] = [];
  const tap: Tap = { calls: [], beforeCall: undefined };
  const registrations = new Map<ServiceName, ServiceRegistration>();
  const ports = new Map<ServiceName, number>();
  if (grpc) for (const name of SERVICES) ports.set(name, await freePort());
  // Over gRPC the gateway speaks mutual TLS to the services, as a deployment should: the services
  // then take the caller as the gateway states it (a plaintext gateway could forward tokens only).
  const tls = grpc && opts.mutualTls !== false ? writeDevTls() : undefined;
  const tlsFiles = tls?.env;
  const serverTls =
    tlsFiles === undefined
      ? undefined
      : {
          cert: readFileSync(tlsFiles.PMX_GRPC_TLS_CERT as string),
          key: readFileSync(tlsFiles.PMX_GRPC_TLS_KEY as string),
          ca: readFileSync(tlsFiles.PMX_GRPC_TLS_CA as string),
        };
  const address = (name: ServiceName) => `127.0.0.1:${ports.get(name)}`;

  let fronts: GrpcServerHandle[] = [];
  const startServices = async () => {
    if (!grpc) throw new Error("startServices needs the grpc transport");
    if (fronts.length > 0) return;
    const started = await Promise.allSettled(
      SERVICES.map((name) =>
        startGrpcServer({
          host: "127.0.0.1",
          port: ports.get(name) as number,
          services: [tapRegistration(name, registrations.get(name) as ServiceRegistration, tap)],
          tls: serverTls,
        }),
      ),
    );
    const failed = started.find((r) => r.status === "rejected");
    const servers = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    if (failed !== undefined) {
      // The ones that did start would keep the process alive.
      await Promise.all(servers.map((s) => s.stop(100)));
      throw failed.reason;
    }
    fronts = servers;
  };
  const stopServices = async () => {
    if (!grpc) throw new Error("stopServices needs the grpc transport");
    await Promise.all(fronts.splice(0).map((s) => s.stop(100)));
  };

  let system: RunningSystem;
  try {
    system = await startSystem({
      env: {
        PMX_HOST: "127.0.0.1",
        PMX_PORT: "0",
        PMX_INITIALIZATION_TOKEN: INITIALIZATION_TOKEN,
        // The services' own gRPC ports on free ports (8111-8114 by default), so parallel runs do not collide.
        PMX_APIKEY_LISTEN: "127.0.0.1:0",
        PMX_AUTH_LISTEN: "127.0.0.1:0",
        PMX_PKI_LISTEN: "127.0.0.1:0",
        PMX_AUDIT_LISTEN: "127.0.0.1:0",
        // Tier limits stay out of tests that do not test them; pki keeps following PMX_RATE_LIMIT_PER_MINUTE.
        PMX_RATE_LIMITS: "pkiadmin=0,user=0,audit=0,auth=0",
        ...(grpc
          ? {
              ...tlsFiles,
              PMX_APIKEY_ADDR: address("apikey"),
              PMX_AUTH_ADDR: address("auth"),
              PMX_PKI_ADDR: address("pki"),
              PMX_AUDIT_ADDR: address("audit"),
            }
          : {}),
        ...opts.env,
      },
      logDestination: {
        write: (line: string) => {
          logLines.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
      serviceTarget: async (name, registration) => {
        registrations.set(name, registration);
        return grpc ? address(name) : tapRegistration(name, registration, tap);
      },
      beforeGateway: async (clients) => {
        if (grpc && !opts.servicesLater) await startServices();
        await opts.beforeGateway?.(clients);
      },
      ...(opts.gateway ? { gatewayOptions: opts.gateway } : {}),
      ...(opts.pki ? { pkiOptions: opts.pki } : {}),
      ...(opts.servicesLater ? { readyTimeoutMs: 0 } : {}),
    });
  } catch (err) {
    await stopServices().catch(() => undefined);
    throw err;
  }

  const setup = createServiceClients({
    apikey: registrations.get("apikey") as ServiceRegistration,
    auth: registrations.get("auth") as ServiceRegistration,
    pki: registrations.get("pki") as ServiceRegistration,
    audit: registrations.get("audit") as ServiceRegistration,
  });
  const url = system.url;
  const wsUrl = `ws${url.slice("http".length)}/main`;
  return {
    url,
    rpcUrl: `${url}/main`,
    wsUrl,
    app: system.gateway,
    bus: system.bus,
    logLines,
    services: setup.clients,
    get calls() {
      return tap.calls;
    },
    get beforeCall() {
      return tap.beforeCall;
    },
    set beforeCall(fn) {
      tap.beforeCall = fn;
    },
    addKey: (key) => addTestKey(setup.clients, key),
    token: (key, scope, clientIp) => issueTestToken(setup.clients, key, scope, clientIp),
    startServices,
    stopServices,
    close: async () => {
      setup.close();
      await system.stop();
      await stopServices().catch(() => undefined);
      tls?.remove();
    },
  };
}
