/**
 * A bounded first-in first-out store of byte records kept in one buffer.
 *
 * For what a process keeps by the thousand and drops oldest first (the
 * in-process bus's retained events, the embedded audit store's events): as
 * objects, every one of them outlives the young generation, is promoted to
 * V8's old space and dies there when it is dropped, so the old space keeps
 * filling with garbage and the heap keeps being sized for it. Here a record is
 * a few bytes in a buffer that is reused, and what the process keeps costs no
 * garbage collection at all.
 *
 * Records are numbered from 0 in the order pushed (`firstSeq` is the oldest
 * kept, `nextSeq` the next to come). A push drops the oldest records until the
 * new one fits: past `maxRecords` records or `maxBytes` bytes. The buffer
 * starts small and doubles, up to `maxBytes`, when the records kept need more
 * room, so its size follows what is kept rather than the bound.
 */
export class ByteRing {
  private buf: Buffer;
  private readonly offsets: Float64Array;
  private readonly lengths: Uint32Array;
  private first = 0;
  private next = 0;
  /** Where the next record goes. */
  private writeAt = 0;
  /** Bytes of the records kept. */
  private used = 0;

  constructor(
    readonly maxRecords: number,
    readonly maxBytes: number,
    /** Told of each record as it is dropped to make room, while it can still be read. */
    private readonly onDrop?: (seq: number) => void,
    initialBytes = 64 * 1024,
  ) {
    if (!Number.isInteger(maxRecords) || maxRecords < 1) throw new RangeError("maxRecords must be a positive integer");
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError("maxBytes must be a positive integer");
    this.offsets = new Float64Array(maxRecords);
    this.lengths = new Uint32Array(maxRecords);
    // Not zero-filled: only bytes written by push are ever read, and untouched pages stay unallocated.
    this.buf = Buffer.allocUnsafeSlow(Math.min(maxBytes, initialBytes));
  }

  get firstSeq(): number {
    return this.first;
  }

  get nextSeq(): number {
    return this.next;
  }

  get size(): number {
    return this.next - this.first;
  }

  /** The buffer's current size in bytes. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Whether `seq` is still kept. */
  has(seq: number): boolean {
    return seq >= this.first && seq < this.next;
  }

  /**
   * Appends a record of `length` bytes, written by `write` at `at` in `buf`
   * (exactly `length` bytes; `buf` must not be kept). Returns its number, or
   * -1 when it is larger than `maxBytes` (nothing is dropped then).
   */
  push(length: number, write: (buf: Buffer, at: number) => void): number {
    if (!Number.isInteger(length) || length < 1) throw new RangeError("a record has at least one byte");
    if (length > this.maxBytes) return -1;
    if (this.size === this.maxRecords) this.dropOldest();
    const at = this.place(length);
    write(this.buf, at);
    const slot = this.next % this.maxRecords;
    this.offsets[slot] = at;
    this.lengths[slot] = length;
    this.next++;
    this.writeAt = at + length;
    this.used += length;
    return this.next - 1;
  }

  /** The bytes of record `seq`: a view valid until the next push (copy what must outlive it). */
  view(seq: number): Buffer {
    const at = this.offsetOf(seq);
    return this.buf.subarray(at, at + this.lengthOf(seq));
  }

  /** The buffer the records are in: valid until the next push (read a record's bytes at `offsetOf`). */
  get buffer(): Buffer {
    return this.buf;
  }

  /** Where record `seq` starts in `buffer`. */
  offsetOf(seq: number): number {
    if (!this.has(seq)) throw new RangeError(`record ${seq} is not kept`);
    return this.offsets[seq % this.maxRecords] as number;
  }

  /** The length of record `seq`. */
  lengthOf(seq: number): number {
    if (!this.has(seq)) throw new RangeError(`record ${seq} is not kept`);
    return this.lengths[seq % this.maxRecords] as number;
  }

  /** Drops the oldest record (no-op when empty). */
  dropOldest(): void {
    if (this.size === 0) return;
    this.onDrop?.(this.first);
    this.used -= this.lengths[this.first % this.maxRecords] as number;
    this.first++;
  }

  /** Drops every record. */
  clear(): void {
    while (this.size > 0) this.dropOldest();
  }

  /**
   * Where a record of `length` bytes can go: after the newest one, or at the
   * start of the buffer once the end is too short (the rest of the end is left
   * unused until the records before it are dropped), dropping the oldest
   * records that are in the way, or growing the buffer when what is kept
   * needs more room and it may still grow.
   */
  private place(length: number): number {
    for (;;) {
      if (this.size === 0) {
        if (length > this.buf.length) this.grow(length);
        return 0;
      }
      const head = this.offsets[this.first % this.maxRecords] as number;
      if (this.writeAt > head) {
        // Kept: [head, writeAt). Free: the end, then [0, head).
        if (this.writeAt + length <= this.buf.length) return this.writeAt;
        if (length <= head) return 0;
      } else if (this.writeAt + length <= head) {
        // Kept: [head, the end's last record) and [0, writeAt); free: [writeAt, head).
        return this.writeAt;
      }
      if (this.buf.length < this.maxBytes && this.used + length > this.buf.length / 2) {
        this.grow(this.used + length);
        continue;
      }
      this.dropOldest();
    }
  }

  /** Moves the records kept, oldest first, to the start of a buffer at least twice as large and of `need` bytes. */
  private grow(need: number): void {
    const size = Math.min(this.maxBytes, Math.max(need, this.buf.length * 2));
    const next = Buffer.allocUnsafeSlow(size);
    let at = 0;
    for (let seq = this.first; seq < this.next; seq++) {
      const slot = seq % this.maxRecords;
      const from = this.offsets[slot] as number;
      const len = this.lengths[slot] as number;
      this.buf.copy(next, at, from, from + len);
      this.offsets[slot] = at;
      at += len;
    }
    this.buf = next;
    this.writeAt = at;
  }
}
