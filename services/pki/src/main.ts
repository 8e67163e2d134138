// Telemetry first: it must hook grpc-js and the MongoDB driver before anything
// loads them, which rules out reading it through config.ts (that loads the kit).
import { startTelemetry } from "@pkiserver/kit/telemetry";

const telemetry = startTelemetry({
  serviceName: "pkiserver-pki",
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import * as kit from "@pkiserver/kit";
import {
  connectMongo,
  createLogger,
  type EventBus,
  MemoryEventBus,
  type MongoHandle,
  onShutdown,
} from "@pkiserver/kit";
import { buildApp } from "./app";
import { loadConfig, type PkiConfig } from "./config";

type CreateNatsBus = (opts: { servers: string; prefix: string }) => Promise<EventBus>;

async function connectBus(config: PkiConfig): Promise<EventBus> {
  if (!config.natsUrl) return new MemoryEventBus();
  // The kit's NATS adapter is looked up at run time so this file builds against
  // kit versions without it; with PMX_NATS_URL set it is required.
  const createNatsBus = (kit as unknown as { createNatsBus?: CreateNatsBus }).createNatsBus;
  if (!createNatsBus) throw new Error("PMX_NATS_URL is set but this build has no NATS event bus");
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
