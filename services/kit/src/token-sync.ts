import { authV1 } from "@pkiserver/proto";
import type { EventBus, Subscription } from "./bus";
import type { BearerVerifier } from "./call-auth";
import type { ServiceEnv } from "./config";
import { AppError } from "./errors";
import { decodeEvent, Events } from "./events";
import { createClient, type GrpcServerHandle, type GrpcTls, type ServiceRegistration, startGrpcServer } from "./grpc";
import type { Logger } from "./logger";
import type { ServiceDeps } from "./service";

/*
 * Keeps a token verifier's keys and revocation list equal to auth's, for
 * every process that verifies access tokens (the gateway, each service). The
 * verifier and the cache are the contract's (`createJwksTokenVerifier`,
 * `RevocationCache`); they are named here by what the sync needs of them.
 */

/** Where auth's signing keys and live revocations are read: auth's client, or its use cases in its own process. */
export interface AuthKeySource {
  getSigningKeys(req: authV1.GetSigningKeysRequest): Promise<authV1.GetSigningKeysResponse>;
  listRevocations(req: authV1.ListRevocationsRequest): Promise<authV1.ListRevocationsResponse>;
}

/** The reason of a session the per-key cap closed (auth's `RevokeReason.sessionLimit`). */
const SESSION_LIMIT = "session_limit";

/** A token verifier whose keys can be replaced. */
export interface KeySink {
  setKeys(keys: readonly authV1.SigningKey[]): void;
}

/** When a withdrawal stops mattering, as the events and the snapshot say. */
interface Lifetime {
  apiKeyId?: string | undefined;
  tokensExpireAt?: number | undefined;
}

/** What the revocation sync keeps current. */
export interface RevocationSink {
  loadSnapshot(snapshot: authV1.ListRevocationsResponse): void;
  isLoaded(): boolean;
  revokeSession(sessionId: string, lifetime: Lifetime): void;
  raiseCapMark(mark: { apiKeyId: string; createdAt: number; sessionId: string; tokensExpireAt: number }): void;
  rotateSession(sessionId: string, generation: number, lifetime: Lifetime): void;
  applyKeyChange(change: {
    apiKeyId: string;
    at: number;
    deleted: boolean;
    enabled: boolean;
    maxScope: readonly string[];
  }): void;
}

export interface SyncHandle {
  /** Resolves once the first snapshot has been loaded. */
  readonly loaded: Promise<void>;
  isLoaded(): boolean;
  stop(): Promise<void>;
}

/** Runs `load` until it succeeds, backing off up to 5 s between attempts, unless stopped. */
export function retrying(
  load: () => Promise<void>,
  logger: Logger,
  what: string,
  stopped: () => boolean,
): Promise<void> {
  return (async () => {
    let delay = 100;
    for (;;) {
      if (stopped()) return;
      try {
        await load();
        return;
      } catch (err) {
        const e = AppError.from(err);
        logger.warn({ err: e.internal ?? e.message, what }, "loading failed, retrying");
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, 5000);
      }
    }
  })();
}

/**
 * Keeps the verifier's keys equal to auth's signing keys: fetched at start
 * and again whenever a key rotation is announced.
 */
export function startSigningKeySync(opts: {
  auth: Pick<AuthKeySource, "getSigningKeys">;
  bus: EventBus;
  verifier: KeySink;
  logger: Logger;
}): SyncHandle {
  const { auth, bus, verifier, logger } = opts;
  let stopped = false;
  let loaded = false;
  let sub: Subscription | undefined;
  const fetchKeys = async () => {
    const res = await auth.getSigningKeys({});
    verifier.setKeys(res.keys);
    loaded = true;
  };
  const ready = (async () => {
    // Subscribing first means no rotation slips between the fetch and the subscription.
    await retrying(
      async () => {
        sub = await bus.subscribe({
          subjects: [Events.signingKeyRotated.subject],
          deliver: "new",
          handler: async () => {
            await fetchKeys();
          },
        });
      },
      logger,
      "signing key events",
      () => stopped,
    );
    await retrying(fetchKeys, logger, "signing keys", () => stopped);
  })();
  return {
    loaded: ready,
    isLoaded: () => loaded,
    stop: async () => {
      stopped = true;
      await sub?.stop();
    },
  };
}

/** Loads auth's live revocations and follows the events that withdraw tokens. */
export function startRevocationSync(opts: {
  auth: Pick<AuthKeySource, "listRevocations">;
  bus: EventBus;
  cache: RevocationSink;
  logger: Logger;
  /** Told of every key change the events bring (the rate-limit cache follows them). */
  onKeyChange?: (change: {
    apiKeyId: string;
    deleted: boolean;
    rateLimits?: Record<string, number | undefined>;
  }) => void;
}): SyncHandle {
  const { auth, bus, cache, logger } = opts;
  let stopped = false;
  let sub: Subscription | undefined;
  const ready = (async () => {
    await retrying(
      async () => {
        sub = await bus.subscribe({
          subjects: [
            Events.sessionRevoked.subject,
            Events.sessionRotated.subject,
            Events.apiKeyDeleted.subject,
            Events.apiKeyUpdated.subject,
          ],
          // Replaying what the stream retains covers changes the snapshot may not list (key changes).
          deliver: "all",
          handler: async (msg) => {
            const revoked = decodeEvent(Events.sessionRevoked, msg);
            if (revoked) {
              // The cap closes a key's oldest sessions: one mark per key covers each it closed.
              const { sessionCreatedAt, tokensExpireAt } = revoked;
              if (
                revoked.reason === SESSION_LIMIT &&
                sessionCreatedAt !== undefined &&
                tokensExpireAt !== undefined &&
                tokensExpireAt > 0
              ) {
                return cache.raiseCapMark({
                  apiKeyId: revoked.apiKeyId,
                  createdAt: sessionCreatedAt,
                  sessionId: revoked.sessionId,
                  tokensExpireAt,
                });
              }
              return cache.revokeSession(revoked.sessionId, revoked);
            }
            const rotated = decodeEvent(Events.sessionRotated, msg);
            if (rotated) return cache.rotateSession(rotated.sessionId, rotated.generation, rotated);
            const deleted = decodeEvent(Events.apiKeyDeleted, msg);
            if (deleted) {
              opts.onKeyChange?.({ apiKeyId: deleted.apiKeyId, deleted: true });
              return cache.applyKeyChange({
                apiKeyId: deleted.apiKeyId,
                at: deleted.at,
                deleted: true,
                enabled: false,
                maxScope: [],
              });
            }
            const updated = decodeEvent(Events.apiKeyUpdated, msg);
            if (updated) {
              opts.onKeyChange?.({
                apiKeyId: updated.apiKeyId,
                deleted: false,
                ...(updated.rateLimits !== undefined ? { rateLimits: { ...updated.rateLimits } } : {}),
              });
              cache.applyKeyChange({
                apiKeyId: updated.apiKeyId,
                at: updated.at,
                deleted: false,
                enabled: updated.enabled,
                maxScope: updated.maxScope,
              });
            }
          },
        });
      },
      logger,
      "revocation events",
      () => stopped,
    );
    await retrying(
      async () => cache.loadSnapshot(await auth.listRevocations({})),
      logger,
      "revocations",
      () => stopped,
    );
  })();
  return {
    loaded: ready,
    isLoaded: () => cache.isLoaded(),
    stop: async () => {
      stopped = true;
      await sub?.stop();
    },
  };
}

/** Both syncs a token verifier needs: auth's signing keys and its live revocations. */
export function startAuthSync(opts: {
  auth: AuthKeySource;
  bus: EventBus;
  verifier: KeySink;
  cache: RevocationSink;
  logger: Logger;
}): SyncHandle {
  const keys = startSigningKeySync(opts);
  const revocations = startRevocationSync(opts);
  return {
    loaded: Promise.all([keys.loaded, revocations.loaded]).then(() => undefined),
    isLoaded: () => keys.isLoaded() && revocations.isLoaded(),
    stop: async () => {
      await Promise.all([keys.stop(), revocations.stop()]);
    },
  };
}

/** A client of auth's signing keys and revocations at `address` (mutual TLS with `tls`). */
export function connectAuthKeys(address: string, tls: GrpcTls | undefined): { source: AuthKeySource; close(): void } {
  const channel = createClient<authV1.AuthServiceServer>(
    authV1.AuthServiceService,
    authV1.AuthServiceClient.serviceName,
    address,
    undefined,
    { tls, keepConnected: true },
  );
  return { source: channel.client, close: () => channel.close() };
}

/** What verifies a process's tokens, as the contract's `tokenChecks` makes it. */
export interface TokenChecks {
  verifier: KeySink;
  cache: RevocationSink;
  bearer: BearerVerifier;
}

/**
 * The Bearer verification of a service in its own process: auth's keys and
 * revocations read from PMX_AUTH_ADDR (over mutual TLS when configured) and
 * followed through the bus. `make` is the contract's `tokenChecks(identity)`.
 */
export function verifyServiceTokens(
  config: Pick<ServiceEnv, "authAddress" | "grpcTls">,
  deps: Pick<ServiceDeps, "bus" | "logger">,
  make: (source: AuthKeySource) => TokenChecks,
): { verifier: BearerVerifier; isLoaded(): boolean; stop(): Promise<void> } {
  const remote = connectAuthKeys(config.authAddress, config.grpcTls);
  const checks = make(remote.source);
  const sync = startAuthSync({
    auth: remote.source,
    bus: deps.bus,
    verifier: checks.verifier,
    cache: checks.cache,
    logger: deps.logger.child({ component: "auth-sync" }),
  });
  return {
    verifier: checks.bearer,
    isLoaded: () => sync.isLoaded(),
    stop: async () => {
      await sync.stop();
      remote.close();
    },
  };
}

/**
 * A service's gRPC server on `deps.listen`, the Bearer tokens of its calls
 * checked by the verifier its process shares (`deps.tokens`) or else by its
 * own follower of auth (`verifyServiceTokens` with `make`). `stop` stops the
 * server, then the follower. `tokensLoaded` says whether that follower has
 * auth's signing keys and revocations (always true with a shared verifier,
 * whose owner waits for them): until then every Bearer call is refused with
 * `-32000`, so the service's readiness includes it.
 */
export async function startServiceGrpc(opts: {
  /** The service's name in the "listening" log line. */
  name: string;
  config: Pick<ServiceEnv, "authAddress" | "grpcTls">;
  deps: ServiceDeps;
  make: (source: AuthKeySource) => TokenChecks;
  services: (tokens: BearerVerifier) => readonly ServiceRegistration[];
  /** More fields of the "listening" log line. */
  logFields?: Record<string, unknown>;
}): Promise<{ grpc: GrpcServerHandle; tokensLoaded(): boolean; stop(): Promise<void> }> {
  const { config, deps } = opts;
  const tokens = deps.tokens
    ? { verifier: deps.tokens, isLoaded: () => true, stop: async () => {} }
    : verifyServiceTokens(config, deps, opts.make);
  let grpc: GrpcServerHandle;
  try {
    grpc = await startGrpcServer({
      host: deps.listen.host,
      port: deps.listen.port,
      services: opts.services(tokens.verifier),
      tls: config.grpcTls,
    });
  } catch (err) {
    await tokens.stop();
    throw err;
  }
  deps.logger.info({ address: grpc.address, ...opts.logFields }, `${opts.name} service listening`);
  return {
    grpc,
    tokensLoaded: () => tokens.isLoaded(),
    stop: async () => {
      await grpc.stop();
      await tokens.stop();
    },
  };
}
