import {
  type CallBindable,
  type CallIdentity,
  type EventBus,
  Events,
  type Logger,
  publishAuthFailure,
  publishEvent,
} from "@pkiserver/kit";
import type { ApiKeyRecord } from "../../domain/entities";
import type { ApiKeyEvents, CredentialRefusal } from "../../domain/ports";

/** Publishes key changes on the event bus as `pkiserver.events.v1` messages. */
export class BusApiKeyEvents implements ApiKeyEvents, CallBindable<BusApiKeyEvents> {
  constructor(
    private readonly bus: EventBus,
    private readonly logger?: Logger,
    /** The call its events are published for, if any (their headers name it). */
    private readonly identity?: CallIdentity,
  ) {}

  forCall(identity: CallIdentity): BusApiKeyEvents {
    return new BusApiKeyEvents(this.bus, this.logger, identity);
  }

  created(key: ApiKeyRecord, at: number, first = false): Promise<void> {
    return publishEvent(
      this.bus,
      Events.apiKeyCreated,
      {
        apiKeyId: key.id,
        name: key.name,
        maxScope: [...key.maxScope],
        enabled: key.enabled,
        at,
        first,
      },
      undefined,
      this.identity,
    );
  }

  updated(before: ApiKeyRecord, after: ApiKeyRecord, at: number): Promise<void> {
    return publishEvent(
      this.bus,
      Events.apiKeyUpdated,
      {
        apiKeyId: after.id,
        name: after.name,
        maxScope: [...after.maxScope],
        enabled: after.enabled,
        previousMaxScope: [...before.maxScope],
        previousEnabled: before.enabled,
        rateLimits: { ...(after.rateLimits ?? {}) },
        at,
      },
      undefined,
      this.identity,
    );
  }

  deleted(apiKeyId: string, at: number): Promise<void> {
    return publishEvent(this.bus, Events.apiKeyDeleted, { apiKeyId, at }, undefined, this.identity);
  }

  rotated(after: ApiKeyRecord, at: number): Promise<void> {
    return publishEvent(
      this.bus,
      Events.apiKeyRotated,
      {
        apiKeyId: after.id,
        credentialGeneration: after.credentialGeneration ?? 0,
        previousCredentialExpiresAt: after.previousCredentialExpiresAt ?? at,
        at,
      },
      undefined,
      this.identity,
    );
  }

  credentialRefused(r: CredentialRefusal): void {
    publishAuthFailure(this.bus, Events.credentialRefused, r, r.at).catch((err: unknown) =>
      this.logger?.warn({ requestId: r.requestId, err: String(err) }, "auth.failed event not published"),
    );
  }
}
