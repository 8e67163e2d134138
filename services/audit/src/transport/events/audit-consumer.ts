import type { EventBus, Logger, Subscription } from "@pkiserver/kit";
import type { AuditDeps } from "../../domain/ports";
import { recordEvent } from "../../domain/record-event";
import { AUDITED_SUBJECTS, toAuditEvents } from "./to-audit-event";

export const AUDIT_CONSUMER = "audit-recorder";
/** Events the consumer records at once. */
const AUDIT_CONCURRENCY = 16;

/**
 * The durable consumer: every event of the services' streams, from the oldest
 * retained, at least once, up to AUDIT_CONCURRENCY at once. Recording is
 * idempotent by event id, so a redelivery changes nothing; a store failure
 * rejects and the bus redelivers.
 */
export function startAuditConsumer(bus: EventBus, deps: AuditDeps, logger: Logger): Promise<Subscription> {
  return bus.subscribe({
    durable: AUDIT_CONSUMER,
    subjects: [...AUDITED_SUBJECTS],
    deliver: "all",
    // Each event is recorded by its id, whatever the order: several at once keep up with busy streams.
    concurrency: AUDIT_CONCURRENCY,
    handler: async (msg) => {
      let events: ReturnType<typeof toAuditEvents>;
      try {
        events = toAuditEvents(msg);
      } catch (err) {
        // An undecodable payload would be redelivered forever; it is skipped and reported.
        logger.error({ subject: msg.subject, eventId: msg.id, err: String(err) }, "audit: undecodable event skipped");
        return;
      }
      for (const e of events) await recordEvent(deps, e);
    },
  });
}
