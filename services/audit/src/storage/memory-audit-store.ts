import { ByteRing } from "@pkiserver/kit";
import type { AuditEvent, AuditFilter, AuditOrder, AuditPosition } from "../domain/entities";
import type { AuditStore } from "../domain/ports";
import { matchesFilter } from "./order";

/** Events the store keeps by default (PMX_AUDIT_MEMORY_EVENTS): the newest ones, some 5-10 MB. */
export const DEFAULT_MAX_MEMORY_EVENTS = 20_000;

/** The index's first size in entries: it grows to twice the events kept, as they come. */
const INDEX_START = 1024;

/** Bytes an event may take on average before the store keeps fewer than its count. */
const BYTES_PER_EVENT = 4096;

/**
 * The embedded form's store. Bounded: past `maxEvents` (PMX_AUDIT_MEMORY_EVENTS)
 * the oldest recorded are dropped (besides the retention purge), so a busy
 * one-process server keeps a flat footprint; MongoDB keeps everything for the
 * retention period.
 *
 * Events are kept as JSON (an event is JSON data: the audit API sends its
 * details as JSON, and no field is ever set to undefined) in a ring of bytes,
 * in the order recorded: a busy server
 * records thousands a second, and as objects each would be promoted to the old
 * space and die there when dropped. Their (time, id) order is an index of
 * typed arrays beside it, with each event's id: an event mostly arrives in
 * time order (then it goes at the end); one that does not (an event stamped
 * ahead of others', such as a key record's createDate during a burst of writes
 * to one history) is placed by binary search.
 */
export class MemoryAuditStore implements AuditStore {
  private readonly ring: ByteRing;
  /** Ids of the events kept, for de-duplication. */
  private readonly ids = new Set<string>();
  /** Per ring slot: the id of its event, undefined once purged (its bytes stay until the ring drops them). */
  private readonly idBySlot: (string | undefined)[];
  /**
   * The index, from `lo` to `hi`: each event's time, ring number and id, in
   * (time, id) order. An entry whose event the ring dropped stays until the
   * index is compacted, and is skipped.
   */
  private times: Float64Array;
  private seqs: Float64Array;
  private idx: (string | undefined)[];
  private lo = 0;
  private hi = 0;

  constructor(private readonly maxEvents = DEFAULT_MAX_MEMORY_EVENTS) {
    this.ring = new ByteRing(maxEvents, Math.max(1 << 20, maxEvents * BYTES_PER_EVENT), (seq) => {
      const id = this.idBySlot[seq % maxEvents];
      if (id === undefined) return;
      this.idBySlot[seq % maxEvents] = undefined;
      this.ids.delete(id);
    });
    this.idBySlot = new Array<string | undefined>(maxEvents).fill(undefined);
    const room = Math.min(INDEX_START, 2 * maxEvents + 1);
    this.times = new Float64Array(room);
    this.seqs = new Float64Array(room);
    this.idx = new Array<string | undefined>(room).fill(undefined);
  }

  async record(event: AuditEvent): Promise<boolean> {
    if (this.ids.has(event.id)) return false;
    const json = JSON.stringify(event);
    const seq = this.ring.push(Buffer.byteLength(json), (buf, at) => {
      buf.write(json, at, "utf8");
    });
    // An event larger than the whole ring is not kept.
    if (seq < 0) return false;
    this.idBySlot[seq % this.maxEvents] = event.id;
    this.ids.add(event.id);
    this.insert(event.time, event.id, seq);
    return true;
  }

  async page(
    filter: AuditFilter,
    order: AuditOrder,
    after: AuditPosition | undefined,
    limit: number,
  ): Promise<AuditEvent[]> {
    const out: AuditEvent[] = [];
    if (limit <= 0) return out;
    if (order === "oldest") {
      let k = this.lo;
      if (after !== undefined) k = this.first((j) => this.compare(j, after.time, after.id) > 0);
      if (filter.from !== undefined) k = Math.max(k, this.firstFrom(filter.from));
      for (; k < this.hi && out.length < limit; k++) {
        if (filter.to !== undefined && (this.times[k] as number) > filter.to) break;
        this.take(k, filter, out);
      }
    } else {
      let k = this.hi - 1;
      if (after !== undefined) k = this.first((j) => this.compare(j, after.time, after.id) >= 0) - 1;
      if (filter.to !== undefined) k = Math.min(k, this.firstFrom(filter.to, true) - 1);
      for (; k >= this.lo && out.length < limit; k--) {
        if (filter.from !== undefined && (this.times[k] as number) < filter.from) break;
        this.take(k, filter, out);
      }
    }
    return out;
  }

  async purgeBefore(time: number): Promise<number> {
    let n = 0;
    while (this.lo < this.hi && (this.times[this.lo] as number) < time) {
      const seq = this.seqs[this.lo] as number;
      if (this.live(seq)) {
        this.idBySlot[seq % this.maxEvents] = undefined;
        this.ids.delete(this.idx[this.lo] as string);
        n++;
      }
      this.idx[this.lo] = undefined;
      this.lo++;
    }
    // The ring keeps a purged event's bytes until it comes to drop them, oldest first.
    while (this.ring.size > 0 && this.idBySlot[this.ring.firstSeq % this.maxEvents] === undefined)
      this.ring.dropOldest();
    return n;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  /** Adds the event at index place `k` to `out` when it is kept and matches. */
  private take(k: number, filter: AuditFilter, out: AuditEvent[]): void {
    const seq = this.seqs[k] as number;
    if (!this.live(seq)) return;
    const at = this.ring.offsetOf(seq);
    const event = JSON.parse(this.ring.buffer.toString("utf8", at, at + this.ring.lengthOf(seq))) as AuditEvent;
    if (matchesFilter(event, filter)) out.push(event);
  }

  private live(seq: number): boolean {
    return this.ring.has(seq) && this.idBySlot[seq % this.maxEvents] !== undefined;
  }

  /** How index entry `k` sorts against (time, id): negative before it, 0 at it, positive after it. */
  private compare(k: number, time: number, id: string): number {
    const t = this.times[k] as number;
    if (t !== time) return t - time;
    const other = this.idx[k] as string;
    return other < id ? -1 : other > id ? 1 : 0;
  }

  /**
   * The first index place in [lo, hi) at which `reached` holds (hi when it
   * holds nowhere): `reached` must hold from some place on, as the index is
   * sorted.
   */
  private first(reached: (k: number) => boolean): number {
    let lo = this.lo;
    let hi = this.hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (reached(mid)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The first index place whose entry's time is at least `time` (past it, with `past`). */
  private firstFrom(time: number, past = false): number {
    return this.first((k) => (past ? (this.times[k] as number) > time : (this.times[k] as number) >= time));
  }

  private insert(time: number, id: string, seq: number): void {
    // Entries whose events were dropped go from the front as they come to it.
    while (this.lo < this.hi && !this.ring.has(this.seqs[this.lo] as number)) {
      this.idx[this.lo] = undefined;
      this.lo++;
    }
    if (this.hi === this.times.length) {
      this.compact();
      // Up to room for twice the events kept, so that compactions stay rare.
      if (this.hi > this.times.length / 2) this.growIndex(Math.min(2 * this.maxEvents + 1, 2 * this.times.length));
    }
    // Mostly at the end; before the last entry, the first place past (time, id).
    const k =
      this.hi > this.lo && this.compare(this.hi - 1, time, id) > 0
        ? this.first((j) => this.compare(j, time, id) > 0)
        : this.hi;
    if (k < this.hi) {
      this.times.copyWithin(k + 1, k, this.hi);
      this.seqs.copyWithin(k + 1, k, this.hi);
      for (let j = this.hi; j > k; j--) this.idx[j] = this.idx[j - 1];
    }
    this.times[k] = time;
    this.seqs[k] = seq;
    this.idx[k] = id;
    this.hi++;
  }

  private growIndex(room: number): void {
    const times = new Float64Array(room);
    const seqs = new Float64Array(room);
    times.set(this.times.subarray(0, this.hi));
    seqs.set(this.seqs.subarray(0, this.hi));
    this.times = times;
    this.seqs = seqs;
    const idx = this.idx;
    this.idx = new Array<string | undefined>(room).fill(undefined);
    for (let k = 0; k < this.hi; k++) this.idx[k] = idx[k];
  }

  /** Moves the entries of kept events to the start of the index. */
  private compact(): void {
    let n = 0;
    for (let k = this.lo; k < this.hi; k++) {
      const seq = this.seqs[k] as number;
      if (!this.live(seq)) continue;
      this.times[n] = this.times[k] as number;
      this.seqs[n] = seq;
      this.idx[n] = this.idx[k];
      n++;
    }
    this.idx.fill(undefined, n, this.hi);
    this.lo = 0;
    this.hi = n;
  }
}
