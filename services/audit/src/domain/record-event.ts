import type { AuditEvent } from "./entities";
import type { AuditDeps } from "./ports";

/**
 * Records one event; a redelivered one (same id) is a no-op. An event older
 * than the retention is not kept: it would be purged at once.
 */
export async function recordEvent(deps: AuditDeps, event: AuditEvent): Promise<boolean> {
  if (event.time < deps.clock.now() - deps.retentionMs) return false;
  return deps.store.record(event);
}

/** Removes what is past the retention. */
export function purgeExpired(deps: AuditDeps): Promise<number> {
  return deps.store.purgeBefore(deps.clock.now() - deps.retentionMs);
}
