import {
  type AsyncHandlers,
  bindToCall,
  implement,
  type Logger,
  perCall,
  type ServiceRegistration,
} from "@pkiserver/kit";
import { auditV1 } from "@pkiserver/proto";
import type { AuditDeps } from "../../domain/ports";
import { exportEventsHandler } from "./export-events";
import { listEventsHandler } from "./list-events";

export const AUDIT_SERVICE_NAME = auditV1.AuditServiceClient.serviceName;

/* Picking the RPC names drops grpc-js's index signature (see the apikey service). */
type Rpcs = Pick<auditV1.AuditServiceServer, keyof typeof auditV1.AuditServiceService>;

export function auditService(deps: AuditDeps, logger: Logger): ServiceRegistration {
  const forCall = bindToCall(deps, { stores: ["store"] });
  const handlers: AsyncHandlers<Rpcs> = perCall(forCall, {
    listEvents: listEventsHandler,
    exportEvents: exportEventsHandler,
  });
  return {
    name: AUDIT_SERVICE_NAME,
    definition: auditV1.AuditServiceService,
    implementation: implement<Rpcs>(auditV1.AuditServiceService, handlers, logger),
  };
}
