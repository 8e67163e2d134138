import {
  AppError,
  type AsyncClient,
  decodeEvent,
  type EventBus,
  Events,
  type Logger,
  type Subscription,
} from "@pkiserver/kit";
import type { authV1 } from "@pkiserver/proto";
import type { RevocationCache } from "./revocations";
import type { KeyedTokenVerifier } from "./token-verifier";

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
  auth: AsyncClient<authV1.AuthServiceServer>;
  bus: EventBus;
  verifier: KeyedTokenVerifier;
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
  auth: AsyncClient<authV1.AuthServiceServer>;
  bus: EventBus;
  cache: RevocationCache;
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
            if (revoked) return cache.revokeSession(revoked.sessionId, revoked);
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
