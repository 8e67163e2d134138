import { type AuditEventType, isAuditEventType } from "@pkiserver/contract";
import { invalidParams } from "@pkiserver/kit";
import type { auditV1 } from "@pkiserver/proto";
import type { AuditEvent } from "../../domain/entities";

export function toProtoEvent(e: AuditEvent): auditV1.AuditEvent {
  // Written out: a literal that starts with a spread and adds keys is slow on node 20.
  return {
    id: e.id,
    time: e.time,
    type: e.type,
    outcome: e.outcome,
    actor: { ...e.actor },
    target: e.target,
    ...(e.requestId === undefined ? {} : { requestId: e.requestId }),
    detailsJson: JSON.stringify(e.details),
  };
}

export function fromProtoTypes(types: readonly string[]): AuditEventType[] {
  return types.map((t, i) => {
    if (!isAuditEventType(t)) throw invalidParams(`types -> ${i} -> Unknown event type`);
    return t;
  });
}
