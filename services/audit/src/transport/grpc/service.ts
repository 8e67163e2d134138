import { requiredScope } from "@pkiserver/contract";
import type { BearerVerifier, Logger, RpcHandlers, RpcRules, ServiceRegistration } from "@pkiserver/kit";
import { bindToCall, serviceRegistration } from "@pkiserver/kit";
import { auditV1 } from "@pkiserver/proto";
import type { AuditDeps } from "../../domain/ports";
import { exportEventsHandler } from "./export-events";
import { listEventsHandler } from "./list-events";

export const AUDIT_SERVICE_NAME = auditV1.AuditServiceClient.serviceName;

/** Who may call each RPC: the scope of audit/listEvents (the export is the same read as NDJSON). */
export const AUDIT_RPC_RULES: RpcRules<auditV1.AuditServiceServer> = {
  listEvents: requiredScope("audit/listEvents"),
  exportEvents: requiredScope("audit/listEvents"),
};

export function auditService(deps: AuditDeps, logger: Logger, tokens: BearerVerifier | undefined): ServiceRegistration {
  const forCall = bindToCall(deps, { stores: ["store"] });
  const handlers: RpcHandlers<auditV1.AuditServiceServer> = {
    listEvents: (req, ctx) => listEventsHandler(forCall(ctx))(req),
    exportEvents: (req, ctx) => exportEventsHandler(forCall(ctx))(req),
  };
  return serviceRegistration(AUDIT_SERVICE_NAME, auditV1.AuditServiceService, handlers, logger, {
    rules: AUDIT_RPC_RULES,
    tokens,
  });
}
