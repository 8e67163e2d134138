import { type AccessTokenSigner, createAccessTokenVerifier, SigningThread, tokenChecks } from "@pkiserver/contract";
import {
  type Caller,
  Closers,
  Events,
  publishAuthFailure,
  runEvery,
  SecretBox,
  type ServiceApp,
  type ServiceDeps,
  type ServiceTarget,
  startAuthSync,
  startGrpcServer,
} from "@pkiserver/kit";
import type { AuthConfig } from "./config";
import { CREDENTIAL_SWEEP_INTERVAL_MS, endExpiredCredentials } from "./domain/api-key-changes";
import { type AuthSettings, MAX_SESSIONS_PER_KEY, maxAccessLifetime } from "./domain/entities";
import type { AuthDeps, Clock, Sealer, SessionStore, SigningKeyStore } from "./domain/ports";
import { SigningKeyManager } from "./domain/signing-keys";
import { MemorySessionStore } from "./storage/memory-sessions";
import { MemorySigningKeyStore } from "./storage/memory-signing-keys";
import { MongoSessionStore } from "./storage/mongo-sessions";
import { MongoSigningKeyStore } from "./storage/mongo-signing-keys";
import { subscribeApiKeyEvents } from "./transport/events/apikey-subscriber";
import { BusAuthEvents } from "./transport/events/publisher";
import { createApiKeyClient } from "./transport/grpc/apikey-client";
import { getSigningKeys } from "./transport/grpc/get-signing-keys";
import { listRevocations } from "./transport/grpc/list-revocations";
import { authServiceRegistration } from "./transport/grpc/service";

/** How long an expired session is kept, so its tokens still read as expired (75) rather than unknown (76). */
export const PURGE_GRACE_MS = 86_400_000;
const PURGE_INTERVAL_MS = 10 * 60_000;

/** The composition root: stores, signing keys, apikey client, event handling, gRPC server. */
/**
 * How long the auth event stream keeps revocations: as long as any access
 * token they cancel may live (`expiresIn:` may reach the refresh lifetime).
 */
export function authStreamMaxAgeMs(config: AuthConfig): number {
  return Math.max(config.accessTokenLifetimeMs, config.refreshTokenLifetimeMs);
}

/** `deps.apikey`: the apikey service's gRPC address, or its registration when it runs in this process. */
export async function buildApp(config: AuthConfig, deps: ServiceDeps & { apikey: ServiceTarget }): Promise<ServiceApp> {
  const logger = deps.logger;
  const clock: Clock = { now: () => Date.now() };
  const settings: AuthSettings = {
    accessTokenLifetimeMs: config.accessTokenLifetimeMs,
    refreshTokenLifetimeMs: config.refreshTokenLifetimeMs,
    signingKeyRotationMs: config.signingKeyRotationMs,
    maxSessionsPerKey: MAX_SESSIONS_PER_KEY,
    tokenIdentity: config.tokenIdentity,
  };

  let sessions: SessionStore;
  let signingKeys: SigningKeyStore;
  let sealer: Sealer;
  if (deps.mongo) {
    if (!config.secretKey) throw new Error("PMX_SECRET_KEY is required with MongoDB");
    sealer = SecretBox.fromConfig(config.secretKey);
    sessions = await MongoSessionStore.create(deps.mongo.db, { purgeGraceMs: PURGE_GRACE_MS });
    signingKeys = await MongoSigningKeyStore.create(deps.mongo.db);
  } else {
    // Keys held in memory die with the process, so an ephemeral sealing key is enough.
    sealer = SecretBox.ephemeral();
    sessions = new MemorySessionStore();
    signingKeys = new MemorySigningKeyStore();
  }

  const events = new BusAuthEvents(deps.bus, logger);
  const keys = new SigningKeyManager(signingKeys, sealer, clock, events, {
    rotationMs: settings.signingKeyRotationMs,
    maxAccessLifetimeMs: maxAccessLifetime(settings),
  });
  await keys.tick();
  const signer = new SigningThread({
    onFailure: (detail) => logger.error({ detail }, "token signing thread lost"),
  });
  const verifier = createAccessTokenVerifier({
    now: clock.now,
    identity: config.tokenIdentity,
    fetchKeys: () => keys.publicKeys(),
  });
  verifier.setKeys(await keys.publicKeys());

  // Over a channel without mutual TLS, auth presents a token of its own to
  // apikey (it reads keys to recheck a refreshed session): it signs it itself,
  // for itself ("pkiserver-auth", scope user:read), short-lived and renewed.
  const selfCaller =
    typeof deps.apikey === "string" && config.grpcTls === undefined
      ? ownTokenCaller(keys, signer, settings, clock)
      : undefined;
  const apikeys = createApiKeyClient(deps.apikey, { tls: config.grpcTls, caller: selfCaller });
  const authDeps: AuthDeps = { sessions, keys, signer, verifier, apikeys, events, clock, settings };

  const closers = new Closers(
    () => apikeys.close(),
    () => signer.close(),
  );
  // The tokens presented on auth's own calls are checked with its keys and revocations, read in process.
  let tokens = deps.tokens;
  if (tokens === undefined) {
    const source = { getSigningKeys: getSigningKeys(authDeps), listRevocations: listRevocations(authDeps) };
    const checks = tokenChecks(config.tokenIdentity)(source);
    const sync = startAuthSync({
      auth: source,
      bus: deps.bus,
      verifier: checks.verifier,
      cache: checks.cache,
      logger: logger.child({ component: "auth-sync" }),
    });
    closers.add(() => sync.stop());
    tokens = checks.bearer;
  }
  const stopAll = async () => {
    await closers.close();
  };
  try {
    const subscription = await subscribeApiKeyEvents(deps.bus, authDeps, logger);
    closers.add(() => subscription.stop());

    const tickMs = Math.max(1000, Math.min(Math.floor(settings.signingKeyRotationMs / 10), 60_000));
    const stopKeyRotation = runEvery(
      tickMs,
      async () => {
        await keys.tick();
        return verifier.setKeys(await keys.publicKeys());
      },
      logger,
      "signing key rotation failed",
    );
    const stopPurge = runEvery(
      PURGE_INTERVAL_MS,
      () => Promise.all([sessions.purgeExpired(clock.now() - PURGE_GRACE_MS), keys.purge()]),
      logger,
      "purge of expired sessions and keys failed",
    );
    // Grace periods end at times stored on the sessions; every replica sweeps,
    // and each session is revoked (and announced) by exactly one of them.
    const stopSweep = runEvery(
      CREDENTIAL_SWEEP_INTERVAL_MS,
      () => endExpiredCredentials(authDeps),
      logger,
      "sweep of rotated-away credentials failed",
      { exclusive: true },
    );
    closers.add(async () => {
      stopKeyRotation();
      stopPurge();
      stopSweep();
    });

    const grpc = await startGrpcServer({
      host: deps.listen.host,
      port: deps.listen.port,
      services: [
        authServiceRegistration(
          authDeps,
          logger,
          (f) => {
            publishAuthFailure(deps.bus, Events.grantFailed, f).catch((err: unknown) =>
              logger.warn({ err: String(err) }, "auth.failed event not published"),
            );
          },
          tokens,
          apikeys.credentials,
        ),
      ],
      tls: config.grpcTls,
    });
    closers.add(() => grpc.stop());
    logger.info({ address: grpc.address }, "auth service listening");

    return {
      name: "auth",
      grpc,
      isReady: async () => deps.bus.isReady() && (await sessions.isReady()),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The API key id auth's own tokens name: no key has it (ids are base58 of random bytes). */
export const AUTH_SELF_KEY_ID = "pkiserver-auth";
const SELF_TOKEN_LIFETIME_MS = 300_000;

/** Auth as a caller of apikey, with a token it signed for itself, renewed a minute before it expires. */
function ownTokenCaller(
  keys: SigningKeyManager,
  signer: AccessTokenSigner,
  settings: AuthSettings,
  clock: Clock,
): () => Promise<Caller> {
  let current: { caller: Caller; renewAt: number } | undefined;
  return async () => {
    const now = clock.now();
    if (current !== undefined && now < current.renewAt) return current.caller;
    const scope = ["user:read"];
    const token = await signer.sign(
      {
        apiKeyId: AUTH_SELF_KEY_ID,
        sessionId: AUTH_SELF_KEY_ID,
        generation: 0,
        scope,
        issuedAt: now,
        expiresAt: now + SELF_TOKEN_LIFETIME_MS,
      },
      await keys.signer(),
      settings.tokenIdentity,
    );
    current = {
      caller: { apiKeyId: AUTH_SELF_KEY_ID, scopes: scope, token },
      renewAt: now + SELF_TOKEN_LIFETIME_MS - 60_000,
    };
    return current.caller;
  };
}
