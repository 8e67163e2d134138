import type { AuditEvent, AuditFilter, AuditOrder, AuditPosition } from "../domain/entities";
import type { AuditStore } from "../domain/ports";
import { compareEvents, matchesFilter } from "./order";

/** The embedded form's store: events kept sorted by (time, id), ids for de-duplication. */
export class MemoryAuditStore implements AuditStore {
  private readonly events: AuditEvent[] = [];
  private readonly ids = new Set<string>();

  async record(event: AuditEvent): Promise<boolean> {
    if (this.ids.has(event.id)) return false;
    this.ids.add(event.id);
    // Events mostly arrive in time order, so the insertion point is near the end.
    let i = this.events.length;
    while (i > 0 && compareEvents(this.events[i - 1] as AuditEvent, event) > 0) i--;
    this.events.splice(i, 0, structuredClone(event));
    return true;
  }

  async page(
    filter: AuditFilter,
    order: AuditOrder,
    after: AuditPosition | undefined,
    limit: number,
  ): Promise<AuditEvent[]> {
    const out: AuditEvent[] = [];
    const n = this.events.length;
    for (let k = 0; k < n && out.length < limit; k++) {
      const e = this.events[order === "oldest" ? k : n - 1 - k] as AuditEvent;
      if (after !== undefined) {
        const c = compareEvents(e, after);
        if (order === "oldest" ? c <= 0 : c >= 0) continue;
      }
      if (matchesFilter(e, filter)) out.push(structuredClone(e));
    }
    return out;
  }

  async purgeBefore(time: number): Promise<number> {
    let k = 0;
    while (k < this.events.length && (this.events[k] as AuditEvent).time < time) {
      this.ids.delete((this.events[k] as AuditEvent).id);
      k++;
    }
    this.events.splice(0, k);
    return k;
  }

  async ping(): Promise<boolean> {
    return true;
  }
}
