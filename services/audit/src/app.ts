import { tokenChecks, tokenIdentityFromEnv } from "@pkiserver/contract";
import { describe, runEvery, type ServiceApp, type ServiceDeps, startServiceGrpc } from "@pkiserver/kit";
import type { AuditConfig } from "./config";
import { type AuditDeps, type AuditStore, systemClock } from "./domain/ports";
import { purgeExpired } from "./domain/record-event";
import { MemoryAuditStore } from "./storage/memory-audit-store";
import { ensureAuditIndexes, MongoAuditStore } from "./storage/mongo-audit-store";
import { startAuditConsumer } from "./transport/events/audit-consumer";
import { auditService } from "./transport/grpc/service";

/** The TTL index, where the server has one, removes expired events sooner; FerretDB 1.x relies on this. */
const PURGE_INTERVAL_MS = 10 * 60_000;

/** The composition root: store, the durable consumer of the event streams, the gRPC server. */
export async function buildApp(config: AuditConfig, deps: ServiceDeps): Promise<ServiceApp> {
  const logger = deps.logger;
  let store: AuditStore;
  let mongoStore: MongoAuditStore | undefined;
  if (deps.mongo) {
    const { ttl } = await ensureAuditIndexes(deps.mongo.db);
    if (!ttl) logger.info("no TTL index on the audit collection; the periodic purge removes expired events");
    mongoStore = new MongoAuditStore(deps.mongo.db, config.retentionMs);
    store = mongoStore;
  } else {
    store = new MemoryAuditStore(config.memoryEvents);
  }
  const auditDeps: AuditDeps = { store, clock: systemClock, retentionMs: config.retentionMs };

  void purgeExpired(auditDeps).catch((err: unknown) => logger.warn({ err: describe(err) }, "audit purge failed"));
  const stopPurge = runEvery(PURGE_INTERVAL_MS, () => purgeExpired(auditDeps), logger, "audit purge failed", {
    level: "warn",
  });

  const consumer = await startAuditConsumer(deps.bus, auditDeps, logger);
  const server = await startServiceGrpc({
    name: "audit",
    config,
    deps,
    make: tokenChecks(tokenIdentityFromEnv(config.tokenEnv)),
    services: (tokens) => [auditService(auditDeps, logger, tokens)],
  });

  return {
    name: "audit",
    grpc: server.grpc,
    isReady: async () => server.tokensLoaded() && deps.bus.isReady() && (await store.ping()),
    stop: async () => {
      stopPurge();
      await consumer.stop();
      await server.stop();
      mongoStore?.close();
    },
  };
}
