import { createHash } from "node:crypto";
import { type CallBindable, type CallIdentity, EventPublisher, Events } from "@pkiserver/kit";
import type { eventsV1 } from "@pkiserver/proto";
import type { Host, KeyRecord } from "../../domain/entities";
import type { PkiEvents } from "../../domain/ports";
import { hostToProto, recordToProto } from "../grpc/codec";

/** Publishes pki events on the bus; a publishing failure is logged (see EventPublisher). */
export class BusPkiEvents extends EventPublisher implements PkiEvents, CallBindable<BusPkiEvents> {
  forCall(identity: CallIdentity): BusPkiEvents {
    return new BusPkiEvents(this.bus, this.logger, identity);
  }

  hostRegistered(host: Host, at: number): Promise<void> {
    return this.send(Events.hostRegistered, { host: hostRecord(host), at });
  }

  hostChanged(host: Host, at: number, change?: { kind: "url_added" | "url_removed"; url: string }): Promise<void> {
    return this.send(Events.hostChanged, {
      host: hostRecord(host),
      at,
      change: change?.kind ?? "",
      ...(change ? { url: change.url } : {}),
    });
  }

  hostDeleted(host: Host, at: number): Promise<void> {
    return this.send(Events.hostDeleted, { host: hostRecord(host), at });
  }

  userKeySet(record: KeyRecord): Promise<void> {
    return this.send(Events.userKeySet, { record: userKeyRecord(record) }, recordEventId(record));
  }

  userKeyDeleted(record: KeyRecord): Promise<void> {
    return this.send(Events.userKeyDeleted, { record: userKeyRecord(record) }, recordEventId(record));
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
