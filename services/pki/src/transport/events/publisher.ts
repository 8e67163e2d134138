import { createHash } from "node:crypto";
import { type CallBindable, type CallIdentity, type EventBus, Events, type Logger, publishEvent } from "@pkiserver/kit";
import type { eventsV1 } from "@pkiserver/proto";
import type { Host, KeyRecord } from "../../domain/entities";
import type { PkiEvents } from "../../domain/ports";
import { hostToProto, recordToProto } from "../grpc/codec";

/**
 * Publishes pki events on the bus. The write they report has already
 * succeeded, so a publishing failure is logged rather than turned into a
 * failed call the client would retry against a changed state.
 */
export class BusPkiEvents implements PkiEvents, CallBindable<BusPkiEvents> {
  constructor(
    private readonly bus: EventBus,
    private readonly logger: Logger,
    /** The call its events are published for, if any (their headers name it). */
    private readonly identity?: CallIdentity,
  ) {}

  forCall(identity: CallIdentity): BusPkiEvents {
    return new BusPkiEvents(this.bus, this.logger, identity);
  }

  hostRegistered(host: Host, at: number): Promise<void> {
    return this.send("hostRegistered", () =>
      publishEvent(this.bus, Events.hostRegistered, { host: hostRecord(host), at }, undefined, this.identity),
    );
  }

  hostChanged(host: Host, at: number, change?: { kind: "url_added" | "url_removed"; url: string }): Promise<void> {
    return this.send("hostChanged", () =>
      publishEvent(
        this.bus,
        Events.hostChanged,
        {
          host: hostRecord(host),
          at,
          change: change?.kind ?? "",
          ...(change ? { url: change.url } : {}),
        },
        undefined,
        this.identity,
      ),
    );
  }

  hostDeleted(host: Host, at: number): Promise<void> {
    return this.send("hostDeleted", () =>
      publishEvent(this.bus, Events.hostDeleted, { host: hostRecord(host), at }, undefined, this.identity),
    );
  }

  userKeySet(record: KeyRecord): Promise<void> {
    return this.send("userKeySet", () =>
      publishEvent(
        this.bus,
        Events.userKeySet,
        { record: userKeyRecord(record) },
        recordEventId(record),
        this.identity,
      ),
    );
  }

  userKeyDeleted(record: KeyRecord): Promise<void> {
    return this.send("userKeyDeleted", () =>
      publishEvent(
        this.bus,
        Events.userKeyDeleted,
        { record: userKeyRecord(record) },
        recordEventId(record),
        this.identity,
      ),
    );
  }

  private async send(event: string, publish: () => Promise<void>): Promise<void> {
    try {
      await publish();
    } catch (err) {
      this.logger.error({ event, err: String(err) }, "event not published");
    }
  }
}

// The event records have the same fields as the pki service's messages.
const hostRecord: (host: Host) => eventsV1.HostRecord = hostToProto;
const userKeyRecord: (r: KeyRecord) => eventsV1.UserKeyRecord = recordToProto;

/** A record is one position of one history, so that names its event: a republish is recognised as the same. */
function recordEventId(r: KeyRecord): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([r.userId, r.instanceId, r.contextId, r.seq]))
    .digest("hex");
  return `pki.userkey.${digest}`;
}
