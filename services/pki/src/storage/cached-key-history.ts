import { LRUCache } from "lru-cache";
import type { KeyEntry, KeyRecord, KeyRef } from "../domain/entities";
import type { Clock, KeyHistoryStore } from "../domain/ports";
import { historyKey } from "./key-history";

/**
 * Dates past which no append can still land, whatever the history: a write
 * picks its createDate from its replica's clock and commits within its call's
 * deadline (10 s), so five minutes leave room for a stalled write and for
 * replica clocks minutes apart.
 */
export const FINAL_AFTER_MS = 5 * 60_000;

/** Histories whose final answers are kept, and spans kept per history. */
const MAX_HISTORIES = 50_000;
const MAX_SPANS_PER_HISTORY = 32;

/** The record in force at every date from `from` to `to` (inclusive); undefined: no record yet. */
interface Span {
  readonly from: number;
  readonly to: number;
  readonly record: KeyRecord | undefined;
}

/**
 * Answers `at` for dates whose answer can no longer change from memory, and
 * passes everything else to the store (MongoDB, where each read is a query).
 *
 * A history only ever grows at its end, and createDate strictly grows with
 * seq: a new record always lands after the newest one there is (at least a
 * millisecond after it), and is written only once every record before it is.
 * So the answer for a date is final once a record created at or after that
 * date exists (nothing can be inserted at or before it), or once the date is
 * older than FINAL_AFTER_MS (no write in flight can still pick it). Each
 * answer learnt that way also holds for every date between its record's
 * createDate and the date asked, which is what a span keeps. A date after the
 * newest record, and not that old, always goes to the store.
 * Bounded: the least recently read histories are dropped first.
 */
export class CachedKeyHistoryStore implements KeyHistoryStore {
  private readonly spans = new LRUCache<string, Span[]>({ max: MAX_HISTORIES });

  constructor(
    private readonly inner: KeyHistoryStore,
    private readonly clock: Clock,
  ) {}

  async append(ref: KeyRef, next: (last: KeyRecord | undefined) => KeyEntry, clock: Clock): Promise<KeyRecord> {
    try {
      return await this.inner.append(ref, next, clock);
    } finally {
      // Never needed for what is kept (only final answers are), but a history
      // written here is read afresh: nothing cached can outlive a clock that lied.
      this.spans.delete(historyKey(ref));
    }
  }

  latest(ref: KeyRef): Promise<KeyRecord | undefined> {
    return this.inner.latest(ref);
  }

  history(ref: KeyRef): Promise<KeyRecord[]> {
    return this.inner.history(ref);
  }

  async at(ref: KeyRef, date: number): Promise<KeyRecord | undefined> {
    const key = historyKey(ref);
    const known = this.spans.get(key);
    const hit = known === undefined ? undefined : find(known, date);
    if (hit !== undefined) return hit.record;

    if (date <= this.clock.now() - FINAL_AFTER_MS) {
      const record = await this.inner.at(ref, date);
      this.learn(key, { from: record?.createDate ?? Number.NEGATIVE_INFINITY, to: date, record });
      return record;
    }
    // Read first: a record after `date` that is already there was written after
    // every record before it (its seq needs theirs), so the answer read next is final.
    const newest = await this.inner.latest(ref);
    if (newest === undefined) return undefined;
    // At the newest record's own date the answer is final (the next record is
    // created at least a millisecond later); after it, not (one may follow).
    if (newest.createDate === date) {
      this.learn(key, { from: date, to: date, record: newest });
      return newest;
    }
    if (newest.createDate < date) return newest;
    const record = await this.inner.at(ref, date);
    this.learn(key, { from: record?.createDate ?? Number.NEGATIVE_INFINITY, to: date, record });
    return record;
  }

  private learn(key: string, span: Span): void {
    const list = this.spans.get(key) ?? [];
    // One span per record: a later date for a known record widens its span.
    const i = list.findIndex((s) => s.record?.seq === span.record?.seq);
    if (i >= 0) {
      const cur = list[i] as Span;
      list[i] = { from: Math.min(cur.from, span.from), to: Math.max(cur.to, span.to), record: cur.record };
    } else {
      if (list.length >= MAX_SPANS_PER_HISTORY) list.shift();
      list.push(span);
    }
    this.spans.set(key, list);
  }
}

function find(spans: readonly Span[], date: number): Span | undefined {
  for (const s of spans) if (s.from <= date && date <= s.to) return s;
  return undefined;
}
