import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as apikey from "@pkiserver/apikey";
import * as audit from "@pkiserver/audit";
import * as auth from "@pkiserver/auth";
import * as gateway from "@pkiserver/gateway";
import {
  AppError,
  createLocalClient,
  createLogger,
  implement,
  MemoryEventBus,
  openAccess,
  type ServiceApp,
  type ServiceRegistration,
} from "@pkiserver/kit";
import * as pki from "@pkiserver/pki";
import { apikeyV1, authV1 } from "@pkiserver/proto";
import type { FastifyInstance } from "fastify";

/** Holds calls until opened. */
function gate(): { wait(): Promise<void>; open(): void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait: () => promise, open };
}

const LOOPBACK = { host: "127.0.0.1", port: 0 };
const silent = createLogger({ name: "overload-test", level: "silent" });

function registrationOf(app: ServiceApp): ServiceRegistration {
  const [r] = app.grpc.services;
  assert.ok(r);
  return r;
}

describe("a saturated backend: the gateway sheds what it cannot start", () => {
  const held = gate();
  const apps: ServiceApp[] = [];
  const bus = new MemoryEventBus();
  let gw: FastifyInstance;
  let url: string;
  before(async () => {
    const env = { PMX_INITIALIZATION_TOKEN: "init-token-for-overload-test" };
    const deps = { logger: silent, bus, listen: LOOPBACK };
    const apikeyApp = await apikey.buildApp(apikey.loadConfig(env), deps);
    apps.push(apikeyApp);
    const authApp = await auth.buildApp(auth.loadConfig(env), { ...deps, apikey: registrationOf(apikeyApp) });
    apps.push(authApp);
    const pkiApp = await pki.buildApp(pki.loadConfig(env), deps);
    apps.push(pkiApp);
    const auditApp = await audit.buildApp(audit.loadConfig(env), deps);
    apps.push(auditApp);
    const services = gateway.createServiceClients({
      apikey: registrationOf(apikeyApp),
      auth: registrationOf(authApp),
      pki: registrationOf(pkiApp),
      audit: registrationOf(auditApp),
    });
    // The real pki service behind a gate: every call stays in flight until the test opens it.
    const pkiClient = services.clients.pki;
    const gatedPki = Object.fromEntries(
      Object.entries(pkiClient).map(([name, fn]) => [
        name,
        async (...args: unknown[]) => {
          await held.wait();
          return (fn as (...a: unknown[]) => Promise<unknown>)(...args);
        },
      ]),
    ) as unknown as typeof pkiClient;
    gw = await gateway.buildGateway({
      config: gateway.loadConfig({ PMX_HOST: "127.0.0.1", PMX_PORT: "0", PMX_PKI_PUBLIC_READ: "true" }),
      logger: silent,
      clients: { ...services.clients, pki: gatedPki },
      bus,
      readiness: async () => true,
      backendLimits: { initial: 2, min: 2, maxQueue: 2, maxWaitMs: 60_000 },
    });
    await gw.listen(LOOPBACK);
    const address = gw.server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/main`;
    // Calls are refused (-32000) until every backend has answered once.
    for (let i = 0; i < 200 && (await fetch(url.replace("/main", "/ready"))).status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    held.open();
    await gw.close();
    for (const app of apps.reverse()) await app.stop();
    await bus.close();
  });

  it("refuses calls beyond the in-flight bound and its queue at once with -32000, HTTP 503 and Retry-After; the rest complete", async () => {
    const send = (i: number) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: i,
          method: "pki/getHost",
          params: { hostUrl: `host-${i}.example` },
        }),
      }).then(async (res) => ({
        i,
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
        body: (await res.json()) as { error?: { code: number; message: string; data: unknown } },
      }));
    const replies = Array.from({ length: 7 }, (_, i) => send(i));
    // Two run and two wait while pki is held; the other three are refused without waiting for it.
    const early: Awaited<(typeof replies)[number]>[] = [];
    const settled = replies.map((p) =>
      p.then((r) => {
        early.push(r);
        return r;
      }),
    );
    while (early.length < 3) await Promise.race(settled.filter((_, i) => !early.some((r) => r.i === i)));
    // Let anything else that would answer while pki is held do so.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    const refused = [...early];
    assert.equal(refused.length, 3, "exactly the calls beyond bound and queue are answered while pki is held");
    for (const r of refused) {
      assert.equal(r.status, 503);
      assert.equal(r.retryAfter, "1");
      assert.deepEqual(r.body.error, { code: -32000, message: "Service unavailable", data: null });
    }
    held.open();
    const all = await Promise.all(replies);
    const served = all.filter((r) => !refused.some((x) => x.i === r.i));
    assert.equal(served.length, 4);
    for (const r of served) {
      assert.equal(r.status, 200);
      assert.equal(r.body.error?.code, 87, "the real service answered: no such host");
    }
    const metrics = await (await fetch(url.replace("/main", "/metrics"))).text();
    assert.match(metrics, /pmx_gateway_backend_shed_total\{backend="pki"\} 3/);
  });
});

describe("work whose caller gave up stops", () => {
  it("a grant abandoned while apikey checks its secret opens no session", async () => {
    const held = gate();
    const checked = gate();
    const key: apikeyV1.ApiKey = {
      apiKeyId: "key-abandoned",
      name: "k",
      enabled: true,
      maxScope: ["pki:read"],
      type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
      createDate: Date.now(),
      credentialGeneration: 0,
    };
    // An apikey service that answers the secret check only when the test lets it.
    const slowApikey: ServiceRegistration = {
      name: apikeyV1.ApiKeyServiceClient.serviceName,
      definition: apikeyV1.ApiKeyServiceService,
      implementation: implement<apikeyV1.ApiKeyServiceServer>(
        apikeyV1.ApiKeyServiceService,
        {
          verifySecret: async () => {
            checked.open();
            await held.wait();
            return { apiKey: key, credentialGeneration: 0 };
          },
          getApiKey: async () => ({ apiKey: key }),
          verifySignature: async () => {
            throw new AppError("auth.invalid_credentials");
          },
          createFirstApiKey: async () => {
            throw new AppError("rpc.internal");
          },
          addApiKey: async () => {
            throw new AppError("rpc.internal");
          },
          listApiKeys: async () => ({ apiKeys: [key] }),
          updateApiKey: async () => {
            throw new AppError("rpc.internal");
          },
          rotateApiKey: async () => {
            throw new AppError("rpc.internal");
          },
          deleteApiKey: async () => {
            throw new AppError("rpc.internal");
          },
        } as never,
        silent,
        openAccess(apikeyV1.ApiKeyServiceService),
      ),
    };
    const bus = new MemoryEventBus();
    const authApp = await auth.buildApp(auth.loadConfig({}), {
      logger: silent,
      bus,
      listen: LOOPBACK,
      apikey: slowApikey,
    });
    try {
      const client = createLocalClient<authV1.AuthServiceServer>(
        registrationOf(authApp),
        authV1.AuthServiceClient.serviceName,
      ).client;
      const grant = client.issueToken(
        {
          grant: {
            $case: "clientCredentials",
            value: { clientId: key.apiKeyId, clientSecret: "s".repeat(40), scope: [] },
          },
          clientIp: "127.0.0.1",
        },
        { timeoutMs: 200 },
      );
      await checked.wait();
      await assert.rejects(grant, (e: unknown) => e instanceof AppError && e.code === "rpc.unavailable");
      // The caller is gone; now apikey answers. The grant must not go on to open a session.
      held.open();
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      const { sessions } = await client.listSessions({ apiKeyId: key.apiKeyId });
      assert.deepEqual(sessions, []);
    } finally {
      held.open();
      await authApp.stop();
      await bus.close();
    }
  });
});
