import "./telemetry-first";
import {
  ConfigError,
  connectMongo,
  createLogger,
  createNatsBus,
  type EventBus,
  MemoryEventBus,
  onShutdown,
  startTelemetry,
  watchReadiness,
} from "@pkiserver/kit";
import { buildApp } from "./app";
import { type ApiKeyConfig, loadConfig } from "./config";

/** The distributed form: this service alone in its process. */
async function main(): Promise<void> {
  let config: ApiKeyConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  // Already started by telemetry-first; this returns that instance, to stop it last.
  const telemetry = startTelemetry({ serviceName: "pkiserver-apikey", otlpEndpoint: config.otlpEndpoint });
  const logger = createLogger({ name: "apikey", level: config.logLevel });
  const closers: (() => Promise<void>)[] = [() => telemetry.shutdown()];

  const mongo = config.mongoUrl ? await connectMongo(config.mongoUrl, config.mongoDb) : undefined;
  if (mongo) closers.push(() => mongo.close());
  const bus: EventBus = config.natsUrl
    ? await createNatsBus({ servers: config.natsUrl, prefix: config.natsPrefix })
    : new MemoryEventBus();
  closers.push(() => bus.close());

  const app = await buildApp(config, { logger, bus, listen: config.listen, ...(mongo ? { mongo } : {}) });
  closers.push(() => app.stop());
  const stopReadinessWatch = watchReadiness(app, ["pkiserver.apikey.v1.ApiKeyService"]);
  closers.push(async () => stopReadinessWatch());
  onShutdown(logger, closers);
  logger.info({ address: app.grpc.address, mongo: Boolean(mongo), nats: Boolean(config.natsUrl) }, "apikey started");
}

main().catch((err: unknown) => {
  process.stderr.write(`apikey failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
