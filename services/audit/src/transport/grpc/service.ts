import { requiredScope } from "@pkiserver/contract";
import {
  type AsyncHandlers,
  type BearerVerifier,
  bindToCall,
  type Logger,
  type RpcRule,
  type RpcsOf,
  type ServiceRegistration,
  serviceRegistration,
} from "@pkiserver/kit";
import { auditV1 } from "@pkiserver/proto";
import type { AuditDeps } from "../../domain/ports";
import { exportEventsHandler } from "./export-events";
import { listEventsHandler } from "./list-events";

export const AUDIT_SERVICE_NAME = auditV1.AuditServiceClient.serviceName;

type Rpcs = RpcsOf<auditV1.AuditServiceServer>;

/** Who may call each RPC: the scope of audit/listEvents (the export is the same read as NDJSON). */
export const AUDIT_RPC_RULES: Readonly<Record<keyof Rpcs, RpcRule>> = {
  listEvents: requiredScope("audit/listEvents"),
  exportEvents: requiredScope("audit/listEvents"),
};

export function auditService(deps: AuditDeps, logger: Logger, tokens: BearerVerifier | undefined): ServiceRegistration {
  const forCall = bindToCall(deps, { stores: ["store"] });
  const handlers: AsyncHandlers<Rpcs> = {
    listEvents: (req, ctx) => listEventsHandler(forCall(ctx))(req),
    exportEvents: (req, ctx) => exportEventsHandler(forCall(ctx))(req),
  };
  return serviceRegistration(AUDIT_SERVICE_NAME, auditV1.AuditServiceService, handlers, logger, {
    rules: AUDIT_RPC_RULES,
    tokens,
  });
}
