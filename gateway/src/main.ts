// Telemetry must start before grpc-js and http are loaded, so this file
// imports only the config and the telemetry entry at the top and requires
// everything else afterwards.
import { configOrExit } from "@pkiserver/kit/config";
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";
import { loadConfig } from "./config";

async function main(): Promise<void> {
  const config = configOrExit("gateway", () => loadConfig());
  const telemetry = startTelemetry({ serviceName: ServiceNames.gateway, otlpEndpoint: config.otlpEndpoint });

  const kit: typeof import("@pkiserver/kit") = require("@pkiserver/kit");
  const { createServiceClients }: typeof import("./clients") = require("./clients");
  const { buildGateway }: typeof import("./app") = require("./app");

  const logger = kit.createLogger({ name: "gateway", level: config.logLevel });
  const closers = new kit.Closers(() => telemetry.shutdown());
  try {
    let bus: import("@pkiserver/kit").EventBus;
    if (config.natsUrl) {
      bus = await kit.createNatsBus({
        servers: config.natsUrl.split(",").map((s) => s.trim()),
        prefix: config.natsPrefix,
        name: "gateway",
        logger,
      });
    } else {
      bus = new kit.MemoryEventBus();
    }
    const b = bus;
    closers.add(() => b.close());

    const services = createServiceClients(
      {
        apikey: config.apikeyAddr,
        auth: config.authAddr,
        pki: config.pkiAddr,
        audit: config.auditAddr,
      },
      config.grpcTls,
    );
    closers.add(async () => services.close());

    const app = await buildGateway({
      config,
      logger,
      clients: services.clients,
      bus,
      credentialsThroughAuth: config.grpcTls === undefined,
    });
    closers.add(() => app.close());
    await app.listen({ host: config.host, port: config.port });
    logger.info({ host: config.host, port: config.port }, "gateway listening");
    kit.onShutdown(logger, closers);
  } catch (err) {
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, "gateway failed to start");
    await closers.close();
    process.exit(1);
  }
}

void main();
