import { AUDIT_LIST_DEFAULT_LIMIT, AUDIT_LIST_MAX_LIMIT } from "@pkiserver/contract";
import { invalidParams } from "@pkiserver/kit/core";
import { decodeCursor, encodeCursor } from "./cursor";
import type { AuditEvent, AuditFilter, AuditOrder } from "./entities";
import type { AuditDeps } from "./ports";

export interface ListEventsInput extends AuditFilter {
  limit?: number;
  cursor?: string;
}

export interface EventsPage {
  events: AuditEvent[];
  nextCursor?: string;
}

/**
 * One page of events in `order`. One event more than asked is read, so a
 * next cursor is given only when there is a next page.
 */
export async function listEvents(deps: AuditDeps, input: ListEventsInput, order: AuditOrder): Promise<EventsPage> {
  const limit = input.limit ?? AUDIT_LIST_DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_LIST_MAX_LIMIT) {
    throw invalidParams(`limit -> Invalid value! Expected 1..${AUDIT_LIST_MAX_LIMIT}, get ${limit}`);
  }
  const after = input.cursor === undefined ? undefined : decodeCursor(order, input.cursor);
  const filter: AuditFilter = {
    ...(input.from !== undefined ? { from: input.from } : {}),
    ...(input.to !== undefined ? { to: input.to } : {}),
    ...(input.types !== undefined && input.types.length > 0 ? { types: input.types } : {}),
    ...(input.apiKeyId !== undefined ? { apiKeyId: input.apiKeyId } : {}),
  };
  const found = await deps.store.page(filter, order, after, limit + 1);
  const events = found.slice(0, limit);
  const last = events[events.length - 1];
  return found.length > limit && last ? { events, nextCursor: encodeCursor(order, last) } : { events };
}
