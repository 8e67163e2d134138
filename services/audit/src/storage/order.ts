import type { AuditEvent, AuditFilter, AuditPosition } from "../domain/entities";

/** The (time, id) order of events, oldest first. */
export function compareEvents(a: AuditPosition, b: AuditPosition): number {
  if (a.time !== b.time) return a.time - b.time;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function matchesFilter(e: AuditEvent, f: AuditFilter): boolean {
  if (f.from !== undefined && e.time < f.from) return false;
  if (f.to !== undefined && e.time > f.to) return false;
  if (f.types !== undefined && !f.types.includes(e.type)) return false;
  if (f.apiKeyId !== undefined && e.actor.apiKeyId !== f.apiKeyId && e.target !== f.apiKeyId) return false;
  return true;
}
