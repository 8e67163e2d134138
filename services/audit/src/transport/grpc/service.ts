import { bindToCall, type Logger, perCall, registration } from "@pkiserver/kit";
import { auditV1 } from "@pkiserver/proto";
import type { AuditDeps } from "../../domain/ports";
import { exportEventsHandler } from "./export-events";
import { listEventsHandler } from "./list-events";

export const AUDIT_SERVICE_NAME = auditV1.AuditServiceClient.serviceName;

export function auditService(deps: AuditDeps, logger: Logger) {
  const forCall = bindToCall(deps, { stores: ["store"] });
  const handlers = perCall(forCall, {
    listEvents: listEventsHandler,
    exportEvents: exportEventsHandler,
  });
  return registration<auditV1.AuditServiceServer>(
    auditV1.AuditServiceClient,
    auditV1.AuditServiceService,
    handlers,
    logger,
  );
}
