import { type EventBus, MemoryEventBus } from "./bus";
import type { ServiceConfig, ServiceEnv } from "./config";
import { Closers, onShutdown } from "./lifecycle";
import { createLogger, type Logger } from "./logger";
import { startMetricsServer } from "./metrics";
import { connectMongo, type MongoHandle } from "./mongo";
import { createNatsBus } from "./nats-bus";
import { OutboxEventBus } from "./outbox";
import { type ServiceApp, type ServiceDeps, watchReadiness } from "./service";
import type { TelemetryHandle } from "./telemetry";

export interface ConnectedDeps {
  mongo: MongoHandle | undefined;
  bus: EventBus;
  /** Closes the bus, then MongoDB. */
  close(): Promise<void>;
}

/**
 * MongoDB and NATS when configured, in-memory otherwise: what every process
 * (a service alone, or all of them in one) connects to at start. With
 * MongoDB, events go through a durable outbox in it (OutboxEventBus), so a
 * process that dies before its events are published does not lose them.
 */
export async function connectDeps(
  settings: ServiceEnv,
  opts: { logger?: Logger; streamMaxAgeMs?: Record<string, number> } = {},
): Promise<ConnectedDeps> {
  const mongo = settings.mongoUrl
    ? await connectMongo(settings.mongoUrl, settings.mongoDb, settings.mongoTimeoutMs)
    : undefined;
  let bus: EventBus;
  try {
    const transport = settings.natsUrl
      ? await createNatsBus({
          servers: settings.natsUrl,
          prefix: settings.natsPrefix,
          testPublishDelayMs: settings.testEventPublishDelayMs,
          ...(opts.logger ? { logger: opts.logger } : {}),
          ...(opts.streamMaxAgeMs ? { streamMaxAgeMs: opts.streamMaxAgeMs } : {}),
        })
      : new MemoryEventBus();
    try {
      bus = mongo
        ? await OutboxEventBus.start(transport, mongo.db, opts.logger ? { logger: opts.logger } : {})
        : transport;
    } catch (err) {
      await transport.close();
      throw err;
    }
  } catch (err) {
    await mongo?.close();
    throw err;
  }
  return {
    mongo,
    bus,
    close: async () => {
      await bus.close();
      await mongo?.close();
    },
  };
}

/**
 * The whole life of a service's own process (the distributed form), from
 * its loaded configuration (main.ts reads it first, with `configOrExit`):
 * MongoDB/NATS → composition root → health kept in step with the
 * dependencies → graceful stop on SIGTERM/SIGINT. Any failure to start is
 * printed and exits 1.
 */
export function runServiceProcess<C extends ServiceConfig>(opts: {
  /** Short name for logs: "pki". */
  name: string;
  /** Full gRPC service name, for the health status. */
  grpcServiceName: string;
  telemetry: TelemetryHandle;
  config: C;
  buildApp: (config: C, deps: ServiceDeps) => Promise<ServiceApp>;
  streamMaxAgeMs?: (config: C) => Record<string, number>;
}): void {
  const start = async () => {
    const config = opts.config;
    const logger = createLogger({ name: opts.name, level: config.logLevel });
    const closers = new Closers(() => opts.telemetry.shutdown());
    try {
      const deps = await connectDeps(config, {
        logger,
        ...(opts.streamMaxAgeMs ? { streamMaxAgeMs: opts.streamMaxAgeMs(config) } : {}),
      });
      closers.add(() => deps.close());
      const app = await opts.buildApp(config, {
        logger,
        bus: deps.bus,
        listen: config.listen,
        ...(deps.mongo ? { mongo: deps.mongo } : {}),
      });
      closers.add(() => app.stop());
      const stopWatch = watchReadiness(app, [opts.grpcServiceName]);
      closers.add(stopWatch);
      const metrics = config.metricsListen ? await startMetricsServer(config.metricsListen) : undefined;
      if (metrics) closers.add(() => metrics.close());
      onShutdown(logger, closers);
      logger.info(
        {
          address: app.grpc.address,
          ...(metrics ? { metrics: `http://${metrics.address}/metrics` } : {}),
          mongo: Boolean(deps.mongo),
          nats: Boolean(config.natsUrl),
        },
        `${opts.name} started`,
      );
    } catch (err) {
      await closers.close();
      throw err;
    }
  };
  start().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${opts.name} failed to start: ${message}\n`);
    process.exit(1);
  });
}
