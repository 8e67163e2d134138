import { tokenChecks, tokenIdentityFromEnv } from "@pkiserver/contract";
import { runEvery, SecretBox, type ServiceApp, type ServiceDeps, startServiceGrpc } from "@pkiserver/kit";
import type { ApiKeyConfig } from "./config";
import { type ApiKeyDeps, type ApiKeyStore, type NonceStore, systemClock } from "./domain/ports";
import { MemoryApiKeyStore } from "./storage/memory-api-key-store";
import { MemoryNonceStore } from "./storage/memory-nonce-store";
import { ensureApiKeyIndexes, MongoApiKeyStore } from "./storage/mongo-api-key-store";
import { ensureNonceIndexes, MongoNonceStore } from "./storage/mongo-nonce-store";
import { BusApiKeyEvents } from "./transport/events/bus-api-key-events";
import { apiKeyService } from "./transport/grpc/service";

/** How often expired nonces are removed; the TTL index, where it exists, does it sooner. */
const NONCE_PURGE_INTERVAL_MS = 60_000;

/** The composition root: stores, secret box, use-case deps, gRPC server. */
export async function buildApp(config: ApiKeyConfig, deps: ServiceDeps): Promise<ServiceApp> {
  const logger = deps.logger;
  let secrets: SecretBox;
  if (config.secretKey) {
    secrets = SecretBox.fromConfig(config.secretKey);
  } else if (deps.mongo) {
    throw new Error("PMX_SECRET_KEY is required when API keys are stored in MongoDB");
  } else {
    // The keys die with the process, so a key that dies with it is enough.
    secrets = SecretBox.ephemeral();
  }

  let store: ApiKeyStore;
  let nonces: NonceStore;
  if (deps.mongo) {
    await ensureApiKeyIndexes(deps.mongo.db);
    const { ttl } = await ensureNonceIndexes(deps.mongo.db);
    if (!ttl) logger.info("no TTL index on the nonce collection; the periodic purge removes expired nonces");
    store = new MongoApiKeyStore(deps.mongo.db);
    nonces = new MongoNonceStore(deps.mongo.db);
  } else {
    store = new MemoryApiKeyStore();
    nonces = new MemoryNonceStore();
  }

  const useCaseDeps: ApiKeyDeps = {
    store,
    nonces,
    events: new BusApiKeyEvents(deps.bus, logger),
    clock: systemClock,
    secrets,
    initializationToken: config.initializationToken,
  };

  const stopPurge = runEvery(
    NONCE_PURGE_INTERVAL_MS,
    () => nonces.purgeExpired(systemClock.now()),
    logger,
    "nonce purge failed",
    { level: "warn" },
  );

  const server = await startServiceGrpc({
    name: "apikey",
    config,
    deps,
    make: tokenChecks(tokenIdentityFromEnv(config.tokenEnv)),
    services: (tokens) => [apiKeyService(useCaseDeps, logger, tokens)],
  });

  return {
    name: "apikey",
    grpc: server.grpc,
    isReady: async () => server.tokensLoaded() && deps.bus.isReady() && (await store.ping()),
    stop: async () => {
      stopPurge();
      await server.stop();
    },
  };
}
