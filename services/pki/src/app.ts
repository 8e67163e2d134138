import { tokenChecks, tokenIdentityFromEnv } from "@pkiserver/contract";
import { Events, publishEvent, runEvery, type ServiceApp, type ServiceDeps, startServiceGrpc } from "@pkiserver/kit";
import { encodeVerifierKey, generateSigner, type NoteSigner, parseSignerKey } from "@pkiserver/log";
import { pkiV1 } from "@pkiserver/proto";
import type { PkiConfig } from "./config";
import { type Clock, type PkiDeps, systemClock } from "./domain/ports";
import type { TransparencyLog } from "./domain/transparency";
import { CachedKeyHistoryStore } from "./storage/cached-key-history";
import { fillLog } from "./storage/log-fill";
import { withTransparencyLog } from "./storage/logged-stores";
import { MemoryTransparencyLog } from "./storage/memory-transparency-log";
import { MongoTransparencyLog, sharedLogSigner } from "./storage/mongo-transparency-log";
import { createMemoryStores, createMongoStores, type PkiStores } from "./storage/stores";
import { BusPkiEvents } from "./transport/events/publisher";
import { pkiService } from "./transport/grpc/service";

export const PKI_SERVICE_NAME = pkiV1.PkiServiceClient.serviceName;

/** What tests may replace; production uses the defaults. */
export interface PkiAppOptions {
  clock?: Clock;
  /** Wraps the stores the service uses (tests put faults between the service and its data). */
  wrapStores?: (stores: PkiStores) => PkiStores;
}

export interface PkiServiceApp extends ServiceApp {
  /** The transparency log's verifier key, for the embedded form to print. */
  readonly logVerifierKey: string;
}

/**
 * The composition root: MongoDB stores when deps.mongo is given (indexes
 * created first), in-memory ones otherwise; events on deps.bus; the gRPC
 * service on deps.listen. Every change to the stores is appended to the
 * transparency log, which a timer sequences and signs.
 */
export async function buildApp(
  config: PkiConfig,
  deps: ServiceDeps,
  options: PkiAppOptions = {},
): Promise<PkiServiceApp> {
  const { mongo, bus, logger } = deps;
  const clock = options.clock ?? systemClock;
  // On MongoDB every key record is written with its log intent (the record is its own intent).
  const logOn = config.log.testOff !== true;
  const created = mongo ? await createMongoStores(mongo.db, { logIntents: logOn }) : createMemoryStores();
  const raw = options.wrapStores ? options.wrapStores(created) : created;
  const configured = config.log.signingKey ? parseSignerKey(config.log.signingKey) : undefined;
  let log: TransparencyLog;
  let signer: NoteSigner;
  if (mongo) {
    await MongoTransparencyLog.ensureIndexes(mongo.db);
    signer = await sharedLogSigner(mongo.db, configured, () => generateSigner(config.log.origin));
    // Three missed rounds before another replica takes over sequencing.
    const leaseMs = Math.max(3000, 3 * config.log.checkpointIntervalMs);
    log = new MongoTransparencyLog(mongo.db, signer, raw.hosts, { leaseMs });
  } else {
    // Without a configured key the embedded form makes one: its log lives as long as the process.
    signer = configured ?? generateSigner(config.log.origin);
    log = new MemoryTransparencyLog(signer);
  }
  const logVerifierKey = encodeVerifierKey(signer);
  const logged = logOn ? withTransparencyLog(raw, log, clock) : raw;
  // On MongoDB every read is a query: answers that can no longer change are kept in memory.
  const stores = mongo ? { ...logged, keys: new CachedKeyHistoryStore(logged.keys, clock) } : logged;
  const pki: PkiDeps = {
    ...stores,
    events: new BusPkiEvents(bus, logger),
    clock,
  };
  // Each checkpoint signed is announced, so gateways serve it without asking for it.
  const sequence = async () => {
    const cp = await log.sequence();
    if (cp === undefined) return;
    await publishEvent(bus, Events.logCheckpointSigned, {
      checkpoint: cp.note,
      verifierKey: cp.verifierKey,
      treeSize: cp.size,
      at: Date.now(),
    }).catch((err: unknown) => logger.warn({ err: String(err) }, "log checkpoint event not published"));
  };
  // Bench only: a large log before the service is ready (never set outside the bench).
  if (config.log.testFill !== undefined) {
    const started = Date.now();
    await fillLog(logged, log, config.log.testFill, clock);
    logger.warn(
      { records: config.log.testFill, ms: Date.now() - started },
      "log filled for the bench (PMX_TEST_LOG_FILL)",
    );
  }
  // The first checkpoint (the empty log) exists before the first request.
  await sequence();
  const stopSequencing = runEvery(
    config.log.checkpointIntervalMs,
    sequence,
    logger,
    "transparency log sequencing failed",
  );
  const server = await startServiceGrpc({
    name: "pki",
    config,
    deps,
    make: tokenChecks(tokenIdentityFromEnv(config.tokenEnv)),
    services: (tokens) => [pkiService(pki, logger, log, { tokens, publicRead: config.publicRead })],
    logFields: { storage: mongo ? "mongodb" : "memory" },
  });
  return {
    name: "pki",
    grpc: server.grpc,
    logVerifierKey,
    isReady: async () => server.tokensLoaded() && (mongo ? await mongo.ping() : true) && bus.isReady(),
    stop: async () => {
      stopSequencing();
      await server.stop();
      await log.close().catch((err: unknown) => logger.warn({ err }, "transparency log lease not released"));
    },
  };
}
