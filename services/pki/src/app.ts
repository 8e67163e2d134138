import { type ServiceApp, type ServiceDeps, startGrpcServer } from "@pkiserver/kit";
import { pkiV1 } from "@pkiserver/proto";
import type { PkiConfig } from "./config";
import { type Clock, type PkiDeps, systemClock } from "./domain/ports";
import { createMemoryStores, createMongoStores } from "./storage/stores";
import { BusPkiEvents } from "./transport/events/publisher";
import { pkiService } from "./transport/grpc/service";

export const PKI_SERVICE_NAME = pkiV1.PkiServiceClient.serviceName;

/** What tests may replace; production uses the defaults. */
export interface PkiAppOptions {
  clock?: Clock;
}

/**
 * The composition root: MongoDB stores when deps.mongo is given (indexes
 * created first), in-memory ones otherwise; events on deps.bus; the gRPC
 * service on deps.listen.
 */
export async function buildApp(
  _config: PkiConfig,
  deps: ServiceDeps,
  options: PkiAppOptions = {},
): Promise<ServiceApp> {
  const { mongo, bus, logger } = deps;
  const stores = mongo ? await createMongoStores(mongo.db) : createMemoryStores();
  const pki: PkiDeps = {
    ...stores,
    events: new BusPkiEvents(bus, logger),
    clock: options.clock ?? systemClock,
  };
  const grpc = await startGrpcServer({
    host: deps.listen.host,
    port: deps.listen.port,
    services: [pkiService(pki, logger)],
  });
  logger.info({ address: grpc.address, storage: mongo ? "mongodb" : "memory" }, "pki service listening");
  return {
    name: "pki",
    grpc,
    isReady: async () => (mongo ? await mongo.ping() : true) && bus.isReady(),
    stop: () => grpc.stop(),
  };
}
