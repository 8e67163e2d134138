import { requiredScope } from "@pkiserver/contract";
import {
  type AsyncHandlers,
  type BearerVerifier,
  bindToCall,
  implement,
  type Logger,
  type RpcRule,
  type ServiceRegistration,
} from "@pkiserver/kit";
import { auditV1 } from "@pkiserver/proto";
import type { AuditDeps } from "../../domain/ports";
import { exportEventsHandler } from "./export-events";
import { listEventsHandler } from "./list-events";

export const AUDIT_SERVICE_NAME = auditV1.AuditServiceClient.serviceName;

/* Picking the RPC names drops grpc-js's index signature (see the apikey service). */
type Rpcs = Pick<auditV1.AuditServiceServer, keyof typeof auditV1.AuditServiceService>;

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
  return {
    name: AUDIT_SERVICE_NAME,
    definition: auditV1.AuditServiceService,
    implementation: implement<Rpcs>(auditV1.AuditServiceService, handlers, logger, { rules: AUDIT_RPC_RULES, tokens }),
  };
}
