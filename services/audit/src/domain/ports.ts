import type { AuditEvent, AuditFilter, AuditOrder, AuditPosition } from "./entities";

export interface AuditStore {
  /** Stores the event unless one with its id is stored; true when it was new. */
  record(event: AuditEvent): Promise<boolean>;
  /**
   * Up to `limit` events matching `filter`, in `order` of (time, id), strictly
   * past `after` when given.
   */
  page(filter: AuditFilter, order: AuditOrder, after: AuditPosition | undefined, limit: number): Promise<AuditEvent[]>;
  /** Removes the events older than `time`; returns how many. */
  purgeBefore(time: number): Promise<number>;
  ping(): Promise<boolean>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface AuditDeps {
  store: AuditStore;
  clock: Clock;
  /** How long events are kept, ms. */
  retentionMs: number;
}
