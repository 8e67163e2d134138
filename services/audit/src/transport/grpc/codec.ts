import { type AuditEventType, isAuditEventType } from "@pkiserver/contract";
import { invalidParams } from "@pkiserver/kit";
import type { auditV1 } from "@pkiserver/proto";
import type { AuditEvent } from "../../domain/entities";

export function toProtoEvent(e: AuditEvent): auditV1.AuditEvent {
  const { details, ...fields } = e;
  return { ...fields, actor: { ...e.actor }, detailsJson: JSON.stringify(details) };
}

export function fromProtoTypes(types: readonly string[]): AuditEventType[] {
  return types.map((t, i) => {
    if (!isAuditEventType(t)) throw invalidParams(`types -> ${i} -> Unknown event type`);
    return t;
  });
}
