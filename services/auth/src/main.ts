// Telemetry first: it must hook grpc-js and the MongoDB driver before anything
// loads them, which rules out reading it through config.ts (that loads the kit).
import { startTelemetry } from "@pkiserver/kit/telemetry";

const telemetry = startTelemetry({
  serviceName: "pkiserver-auth",
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import {
  ConfigError,
  connectMongo,
  createLogger,
  createNatsBus,
  type EventBus,
  MemoryEventBus,
  type MongoHandle,
  onShutdown,
  watchReadiness,
} from "@pkiserver/kit";
import { buildApp } from "./app";
import { type AuthConfig, loadConfig } from "./config";

async function connectBus(config: AuthConfig): Promise<EventBus> {
  if (!config.natsUrl) return new MemoryEventBus();
  return createNatsBus({
    servers: config.natsUrl,
    prefix: config.natsPrefix,
    // Revocations must outlive every access token they cancel (expiresIn: may reach the refresh lifetime).
    streamMaxAgeMs: { auth: Math.max(config.accessTokenLifetimeMs, config.refreshTokenLifetimeMs) },
  });
}

/** `node services/auth/dist/main.js`: the auth service as its own process. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ name: "auth", level: config.logLevel });
  const closers: (() => Promise<void>)[] = [() => telemetry.shutdown()];
  try {
    let mongo: MongoHandle | undefined;
    if (config.mongoUrl) {
      const m = await connectMongo(config.mongoUrl, config.mongoDb);
      mongo = m;
      closers.push(() => m.close());
    }
    const bus = await connectBus(config);
    closers.push(() => bus.close());
    const app = await buildApp(config, {
      logger,
      bus,
      listen: config.listen,
      apikeyAddress: config.apikeyAddress,
      ...(mongo ? { mongo } : {}),
    });
    closers.push(() => app.stop());
    const stopReadinessWatch = watchReadiness(app, ["pkiserver.auth.v1.AuthService"]);
    closers.push(async () => stopReadinessWatch());
    onShutdown(logger, closers);
  } catch (err) {
    for (const close of [...closers].reverse()) await close().catch(() => undefined);
    throw err;
  }
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
