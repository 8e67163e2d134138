import {
  type BusMessage,
  decodeEvent,
  describe,
  type EventBus,
  Events,
  type Logger,
  type Subscription,
} from "@pkiserver/kit";
import { onApiKeyDeleted, onApiKeyRotated, onApiKeyUpdated } from "../../domain/api-key-changes";
import type { AuthDeps } from "../../domain/ports";

export const APIKEY_CONSUMER = "auth-apikey";

function decode(msg: BusMessage) {
  try {
    return {
      deleted: decodeEvent(Events.apiKeyDeleted, msg),
      updated: decodeEvent(Events.apiKeyUpdated, msg),
      rotated: decodeEvent(Events.apiKeyRotated, msg),
    };
  } catch {
    return undefined;
  }
}

/**
 * Revokes sessions when their API key is deleted, disabled or narrowed, and
 * ends those of a rotated-away credential when its grace period ends. The
 * consumer is durable and starts from the oldest retained event, so changes
 * made while auth was down are applied when it starts; handling is
 * idempotent. A failed store write rejects, and the bus redelivers.
 */
export function subscribeApiKeyEvents(bus: EventBus, deps: AuthDeps, logger: Logger): Promise<Subscription> {
  return bus.subscribe({
    durable: APIKEY_CONSUMER,
    deliver: "all",
    subjects: [Events.apiKeyUpdated.subject, Events.apiKeyDeleted.subject, Events.apiKeyRotated.subject],
    handler: async (msg) => {
      const event = decode(msg);
      if (!event) {
        // Redelivering an undecodable payload would never succeed.
        logger.error({ subject: msg.subject, eventId: msg.id }, "undecodable apikey event skipped");
        return;
      }
      try {
        if (event.deleted) {
          const revoked = await onApiKeyDeleted(deps, { apiKeyId: event.deleted.apiKeyId });
          if (revoked.length > 0)
            logger.info(
              { apiKeyId: event.deleted.apiKeyId, revoked: revoked.length },
              "api key deleted: sessions revoked",
            );
        } else if (event.updated) {
          const u = event.updated;
          const revoked = await onApiKeyUpdated(deps, {
            apiKeyId: u.apiKeyId,
            enabled: u.enabled,
            maxScope: u.maxScope,
            at: u.at,
          });
          if (revoked.length > 0)
            logger.info({ apiKeyId: u.apiKeyId, revoked: revoked.length }, "api key changed: sessions revoked");
        } else if (event.rotated) {
          const r = event.rotated;
          const revoked = await onApiKeyRotated(deps, {
            apiKeyId: r.apiKeyId,
            credentialGeneration: r.credentialGeneration,
            previousCredentialExpiresAt: r.previousCredentialExpiresAt,
          });
          if (revoked.length > 0)
            logger.info({ apiKeyId: r.apiKeyId, revoked: revoked.length }, "api key rotated: sessions revoked");
        }
      } catch (err) {
        logger.warn({ subject: msg.subject, eventId: msg.id, err: describe(err) }, "apikey event will be redelivered");
        throw err;
      }
    },
  });
}
