import type { auditV1 } from "@pkiserver/proto";
import { listEvents } from "../../domain/list-events";
import type { AuditDeps } from "../../domain/ports";
import { fromProtoTypes, toProtoEvent } from "./codec";

export function exportEventsHandler(deps: AuditDeps) {
  return async (req: auditV1.ExportEventsRequest): Promise<auditV1.ExportEventsResponse> => {
    const page = await listEvents(
      deps,
      {
        ...(req.from !== undefined ? { from: req.from } : {}),
        ...(req.to !== undefined ? { to: req.to } : {}),
        types: fromProtoTypes(req.types),
        ...(req.limit !== 0 ? { limit: req.limit } : {}),
        ...(req.cursor !== undefined ? { cursor: req.cursor } : {}),
      },
      "oldest",
    );
    return { events: page.events.map(toProtoEvent), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  };
}
