import { eventsV1 } from "@pkiserver/proto";
import type { BusMessage, EventBus } from "./bus";
import { type CallIdentity, callIdentityHeaders } from "./call-identity";
import { describe } from "./errors";
import type { Logger } from "./logger";

/** A protobuf message type as ts-proto generates it. */
interface MessageFns<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  /** A new message with every field as decoding gives it (defaults filled in, arrays copied). */
  fromPartial(object: T): T;
}

export interface EventDef<T> {
  /** Subject relative to the bus prefix: `<service>.v1.<aggregate>.<event>`. */
  readonly subject: string;
  readonly type: MessageFns<T>;
}

const def = <T>(subject: string, type: MessageFns<T>): EventDef<T> => ({ subject, type });

/** Every event the system publishes, with its subject and payload type. */
export const Events = {
  apiKeyCreated: def("apikey.v1.apikey.created", eventsV1.ApiKeyCreated),
  apiKeyUpdated: def("apikey.v1.apikey.updated", eventsV1.ApiKeyUpdated),
  apiKeyDeleted: def("apikey.v1.apikey.deleted", eventsV1.ApiKeyDeleted),
  apiKeyRotated: def("apikey.v1.apikey.rotated", eventsV1.ApiKeyRotated),
  /** apikey's verdict on a credential it refused (the caller was told only that it did not hold). */
  credentialRefused: def("apikey.v1.auth.failed", eventsV1.AuthFailed),
  sessionOpened: def("auth.v1.session.opened", eventsV1.SessionOpened),
  sessionRotated: def("auth.v1.session.rotated", eventsV1.SessionRotated),
  sessionRevoked: def("auth.v1.session.revoked", eventsV1.SessionRevoked),
  signingKeyRotated: def("auth.v1.signingkey.rotated", eventsV1.SigningKeyRotated),
  hostRegistered: def("pki.v1.host.registered", eventsV1.HostRegistered),
  hostChanged: def("pki.v1.host.changed", eventsV1.HostChanged),
  hostDeleted: def("pki.v1.host.deleted", eventsV1.HostDeleted),
  userKeySet: def("pki.v1.userkey.set", eventsV1.UserKeySet),
  userKeyDeleted: def("pki.v1.userkey.deleted", eventsV1.UserKeyDeleted),
  grantFailed: def("auth.v1.auth.failed", eventsV1.AuthFailed),
  requestAuthFailed: def("gateway.v1.auth.failed", eventsV1.AuthFailed),
  rateLimitRefused: def("gateway.v1.ratelimit.refused", eventsV1.RateLimitRefused),
  logCheckpointSigned: def("log.v1.checkpoint.signed", eventsV1.LogCheckpointSigned),
} as const;

/** The streams, one per publishing service, and the subjects each holds. */
export const Streams = {
  apikey: "apikey.v1.>",
  auth: "auth.v1.>",
  pki: "pki.v1.>",
  gateway: "gateway.v1.>",
  /** The transparency log's checkpoints: not audited, only the latest matters. */
  log: "log.v1.>",
} as const;

/** Publishes `value`; for a call (`identity`), the event carries its request id and caller key in its headers. */
export function publishEvent<T>(
  bus: EventBus,
  event: EventDef<T>,
  value: T,
  id?: string,
  identity?: CallIdentity,
): Promise<void> {
  const headers = callIdentityHeaders(identity);
  const data = event.type.encode(value).finish();
  // An in-process bus hands its consumers the value itself, shaped as decoding would give it
  // (a copy: the publisher keeps its own), which spares every consumer decoding the data.
  if (bus.inProcess) return bus.publish(event.subject, data, { id, headers, value: event.type.fromPartial(value) });
  return bus.publish(event.subject, data, { id, headers });
}

/**
 * What a service's publisher of events shares: the bus, a logger, and the
 * call its events are published for, if any (their headers name it). The
 * write an event reports has already happened, so a publishing failure is
 * logged rather than turned into a failed call the client would retry
 * against a changed state. A subclass adds `forCall` and its events.
 */
export abstract class EventPublisher {
  constructor(
    protected readonly bus: EventBus,
    protected readonly logger: Logger,
    /** The call its events are published for, if any. */
    protected readonly identity?: CallIdentity,
  ) {}

  /** Publishes `value` as `event` (`id` names it for the bus's de-duplication); a failure is logged. */
  protected async send<T>(event: EventDef<T>, value: T, id?: string): Promise<void> {
    try {
      await publishEvent(this.bus, event, value, id, this.identity);
    } catch (err) {
      const name = Object.keys(Events).find((k) => Events[k as keyof typeof Events] === event);
      this.logger.error(
        { event: name, subject: event.subject, eventId: id, err: describe(err) },
        "event not published",
      );
    }
  }
}

/**
 * Decodes `msg` when it is an `event`, else returns undefined. On an
 * in-process bus's live delivery the publisher's value is returned as it is
 * (read-only: every consumer shares it), without decoding.
 */
export function decodeEvent<T>(event: EventDef<T>, msg: BusMessage): T | undefined {
  if (msg.subject !== event.subject) return undefined;
  return msg.value !== undefined ? (msg.value as T) : event.type.decode(msg.data);
}
