// Telemetry first: it must hook grpc-js and the MongoDB driver before anything
// loads them, which rules out reading it through config.ts (that loads the kit).
import { startTelemetry } from "@pkiserver/kit/telemetry";

const telemetry = startTelemetry({
  serviceName: "pkiserver-pki",
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import {
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
import { loadConfig, type PkiConfig } from "./config";

async function connectBus(config: PkiConfig): Promise<EventBus> {
  if (!config.natsUrl) return new MemoryEventBus();
  return createNatsBus({ servers: config.natsUrl, prefix: config.natsPrefix });
}

/** `node services/pki/dist/main.js`: the pki service as its own process. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ name: "pki", level: config.logLevel });
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
    const app = await buildApp(config, { logger, bus, listen: config.listen, ...(mongo ? { mongo } : {}) });
    closers.push(() => app.stop());
    const stopReadinessWatch = watchReadiness(app, ["pkiserver.pki.v1.PkiService"]);
    closers.push(async () => stopReadinessWatch());
    onShutdown(logger, closers);
  } catch (err) {
    for (const close of [...closers].reverse()) await close().catch(() => undefined);
    throw err;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
