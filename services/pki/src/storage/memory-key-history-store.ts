import type { KeyEntry, KeyRecord, KeyRef } from "../domain/entities";
import type { Clock, KeyHistoryStore } from "../domain/ports";
import { historyKey, nextCreateDate, toRecord } from "./key-history";

/**
 * In-process histories: one array per history, kept in createDate order
 * because appends only ever add a later date, so lookups by time bisect.
 */
export class MemoryKeyHistoryStore implements KeyHistoryStore {
  private readonly histories = new Map<string, KeyRecord[]>();

  async append(ref: KeyRef, next: (last: KeyRecord | undefined) => KeyEntry, clock: Clock): Promise<KeyRecord> {
    // No await between reading the last record and pushing, so no other
    // append can slip in: the single thread plays the part of the unique index.
    const key = historyKey(ref);
    const records = this.histories.get(key) ?? [];
    const last = records.at(-1);
    const entry = next(last);
    const record = toRecord(ref, (last?.seq ?? 0) + 1, nextCreateDate(clock.now(), last), entry);
    records.push(record);
    this.histories.set(key, records);
    return record;
  }

  async latest(ref: KeyRef): Promise<KeyRecord | undefined> {
    return this.histories.get(historyKey(ref))?.at(-1);
  }

  async at(ref: KeyRef, date: number): Promise<KeyRecord | undefined> {
    const records = this.histories.get(historyKey(ref));
    if (!records) return undefined;
    // Index of the first record after `date`; the one before it is in force.
    let lo = 0;
    let hi = records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((records[mid] as KeyRecord).createDate <= date) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : records[lo - 1];
  }

  async history(ref: KeyRef): Promise<KeyRecord[]> {
    return [...(this.histories.get(historyKey(ref)) ?? [])].reverse();
  }
}
