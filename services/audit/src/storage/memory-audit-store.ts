import type { AuditEvent, AuditFilter, AuditOrder, AuditPosition } from "../domain/entities";
import type { AuditStore } from "../domain/ports";
import { compareEvents, matchesFilter } from "./order";

/** Events the store keeps by default (PMX_AUDIT_MEMORY_EVENTS): the newest ones, some 10-20 MB. */
export const DEFAULT_MAX_MEMORY_EVENTS = 20_000;

/**
 * The embedded form's store: events kept sorted by (time, id), ids for
 * de-duplication. Bounded: past `maxEvents` (PMX_AUDIT_MEMORY_EVENTS) the
 * oldest are dropped (besides the retention purge), so a busy one-process
 * server keeps a flat footprint (up to about 1 KB an event); MongoDB keeps
 * everything for the retention period.
 */
export class MemoryAuditStore implements AuditStore {
  private readonly events: AuditEvent[] = [];
  private readonly ids = new Set<string>();

  constructor(private readonly maxEvents = DEFAULT_MAX_MEMORY_EVENTS) {}

  async record(event: AuditEvent): Promise<boolean> {
    if (this.ids.has(event.id)) return false;
    this.ids.add(event.id);
    // The event is the recorder's own new object, read-only from here on: kept as it is.
    // Events mostly arrive in time order (then it goes at the end); one that does not
    // (an event stamped with a time ahead of others', such as a key record's createDate
    // during a burst of writes to one history) is placed by binary search, not by a
    // walk back over every later one.
    const n = this.events.length;
    if (n === 0 || compareEvents(this.events[n - 1] as AuditEvent, event) <= 0) {
      this.events.push(event);
    } else {
      let lo = 0;
      let hi = n - 1;
      // The first event that sorts after the new one (events[hi] does).
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareEvents(this.events[mid] as AuditEvent, event) > 0) hi = mid;
        else lo = mid + 1;
      }
      this.events.splice(lo, 0, event);
    }
    // Dropped in batches of a tenth, so that the array is not shifted on every event.
    if (this.events.length > this.maxEvents + Math.ceil(this.maxEvents / 10)) {
      for (const dropped of this.events.splice(0, this.events.length - this.maxEvents)) this.ids.delete(dropped.id);
    }
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
