import { type EventBus, Events, type Logger, publishAuthFailure, publishEvent } from "@pkiserver/kit";
import type { ApiKeyRecord } from "../../domain/entities";
import type { ApiKeyEvents, CredentialRefusal } from "../../domain/ports";

/** Publishes key changes on the event bus as `pkiserver.events.v1` messages. */
export class BusApiKeyEvents implements ApiKeyEvents {
  constructor(
    private readonly bus: EventBus,
    private readonly logger?: Logger,
  ) {}

  created(key: ApiKeyRecord, at: number, first = false): Promise<void> {
    return publishEvent(this.bus, Events.apiKeyCreated, {
      apiKeyId: key.id,
      name: key.name,
      maxScope: [...key.maxScope],
      enabled: key.enabled,
      at,
      first,
    });
  }

  updated(before: ApiKeyRecord, after: ApiKeyRecord, at: number): Promise<void> {
    return publishEvent(this.bus, Events.apiKeyUpdated, {
      apiKeyId: after.id,
      name: after.name,
      maxScope: [...after.maxScope],
      enabled: after.enabled,
      previousMaxScope: [...before.maxScope],
      previousEnabled: before.enabled,
      rateLimits: { ...(after.rateLimits ?? {}) },
      at,
    });
  }

  deleted(apiKeyId: string, at: number): Promise<void> {
    return publishEvent(this.bus, Events.apiKeyDeleted, { apiKeyId, at });
  }

  rotated(after: ApiKeyRecord, at: number): Promise<void> {
    return publishEvent(this.bus, Events.apiKeyRotated, {
      apiKeyId: after.id,
      credentialGeneration: after.credentialGeneration ?? 0,
      previousCredentialExpiresAt: after.previousCredentialExpiresAt ?? at,
      at,
    });
  }

  credentialRefused(r: CredentialRefusal): void {
    publishAuthFailure(this.bus, Events.credentialRefused, r, r.at).catch((err: unknown) =>
      this.logger?.warn({ requestId: r.requestId, err: String(err) }, "auth.failed event not published"),
    );
  }
}
