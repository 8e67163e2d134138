import { randomUUID } from "node:crypto";
import { ByteRing } from "./byte-ring";

/** One delivered event. `subject` is relative to the bus's prefix. */
export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** Unique per published event; consumers use it to stay idempotent. */
  readonly id: string;
}

export interface Subscription {
  stop(): Promise<void>;
}

export interface SubscribeOptions {
  /** Durable consumer name: with it, delivery resumes where that consumer left off. */
  durable?: string;
  /** Relative subjects; a trailing `>` matches any suffix, `*` one token. */
  subjects: readonly string[];
  /** `all`: from the oldest retained event; `new`: only events published from now on. */
  deliver: "all" | "new";
  /** Resolves when handled; a rejection gets the event redelivered later. */
  handler: (msg: BusMessage) => Promise<void>;
  /**
   * At most this many events handled at once, in no particular order (default 1: one after
   * another, in order). For a consumer whose handling does not depend on order, such as one that
   * records each event by its id. The in-process bus handles one at a time.
   */
  concurrency?: number;
}

/**
 * The event bus port. Publishing happens after the write it reports has
 * succeeded; an adapter must not lose an accepted event when its transport is
 * briefly away (it keeps it and publishes it later). With MongoDB,
 * OutboxEventBus keeps accepted events there, so they outlive the process too.
 */
export interface EventBus {
  publish(subject: string, data: Uint8Array, opts?: { id?: string; headers?: Record<string, string> }): Promise<void>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  /** True while the bus can accept and deliver events. */
  isReady(): boolean;
  close(): Promise<void>;
}

/** Whether `subject` matches a NATS-style `pattern` (`*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  return tokensMatch(pattern.split("."), subject.split("."));
}

/** `subjectMatches` on subjects already split into tokens. */
function tokensMatch(p: readonly string[], s: readonly string[]): boolean {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

interface MemorySub {
  opts: SubscribeOptions;
  /** Its subject patterns, split once. */
  patterns: readonly (readonly string[])[];
  /** Events to deliver, in order, from `head` on (delivered ones are cut off in batches, not shifted one by one). */
  queue: BusMessage[];
  head: number;
  running: boolean;
  stopped: boolean;
}

/** Bytes the in-process bus may keep for replay by default: a bound besides the count, as a stream's `max_bytes`. */
export const DEFAULT_RETAINED_BYTES = 64 * 1024 * 1024;

/**
 * A retained event in the bus's ring: its time, id, subject, headers and data,
 * each length-prefixed (u32 little-endian; the time a float64).
 */
function retainedLength(msg: BusMessage): number {
  let n = 8 + 4 + Buffer.byteLength(msg.id) + 4 + Buffer.byteLength(msg.subject) + 4;
  for (const [k, v] of Object.entries(msg.headers)) n += 4 + Buffer.byteLength(k) + 4 + Buffer.byteLength(v);
  return n + 4 + msg.data.length;
}

function writeString(buf: Buffer, at: number, s: string): number {
  const n = buf.write(s, at + 4, "utf8");
  buf.writeUInt32LE(n, at);
  return at + 4 + n;
}

function writeRetained(buf: Buffer, at: number, msg: BusMessage, time: number): void {
  buf.writeDoubleLE(time, at);
  let p = writeString(buf, at + 8, msg.id);
  p = writeString(buf, p, msg.subject);
  const headers = Object.entries(msg.headers);
  buf.writeUInt32LE(headers.length, p);
  p += 4;
  for (const [k, v] of headers) p = writeString(buf, writeString(buf, p, k), v);
  buf.writeUInt32LE(msg.data.length, p);
  buf.set(msg.data, p + 4);
}

/** Reads the retained events' fields in turn from `at`. */
class RetainedReader {
  constructor(
    private readonly buf: Buffer,
    private at: number,
  ) {}

  time(): number {
    const t = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return t;
  }

  u32(): number {
    const n = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return n;
  }

  string(): string {
    const n = this.u32();
    const s = this.buf.toString("utf8", this.at, this.at + n);
    this.at += n;
    return s;
  }

  /** A copy: the ring's bytes are reused. */
  bytes(): Uint8Array {
    const n = this.u32();
    const out = new Uint8Array(n);
    out.set(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return out;
  }
}

/**
 * In-process bus for the embedded default and unit tests. Keeps the last
 * `maxRetained` events of the last `retentionMs`, within `maxRetainedBytes`,
 * so `deliver: "all"` replays them (a stream with limits, as JetStream's); a
 * durable consumer resumes after the last event it acknowledged. Retained
 * events are kept as bytes in a ring (see ByteRing), not as objects: a busy
 * server publishes thousands a second, and as objects each would be promoted
 * to the old space and die there.
 */
export class MemoryEventBus implements EventBus {
  /** Retained events, oldest first. */
  private readonly log: ByteRing;
  /** Ids of the retained events, for de-duplication without a scan. */
  private readonly ids = new Set<string>();
  private readonly subs = new Set<MemorySub>();
  private readonly durableAcked = new Map<string, Set<string>>();
  private closed = false;

  constructor(
    private readonly retentionMs = 24 * 3600_000,
    private readonly redeliveryDelayMs = 200,
    maxRetained = 10_000,
    maxRetainedBytes = DEFAULT_RETAINED_BYTES,
  ) {
    // What consumers remember of a dropped event goes with it.
    this.log = new ByteRing(maxRetained, maxRetainedBytes, (seq) => {
      const id = this.retainedId(seq);
      this.ids.delete(id);
      for (const acked of this.durableAcked.values()) acked.delete(id);
    });
  }

  async publish(subject: string, data: Uint8Array, opts: { id?: string; headers?: Record<string, string> } = {}) {
    if (this.closed) throw new Error("bus closed");
    const msg: BusMessage = { subject, data, headers: { ...(opts.headers ?? {}) }, id: opts.id ?? randomUUID() };
    // Publishing a retained id again is a no-op, as with JetStream's de-duplication.
    if (this.ids.has(msg.id)) return;
    const now = Date.now();
    this.trim(now);
    // An event larger than the whole ring is delivered but not retained.
    if (this.log.push(retainedLength(msg), (buf, at) => writeRetained(buf, at, msg, now)) >= 0) this.ids.add(msg.id);
    const tokens = subject.split(".");
    for (const sub of this.subs) {
      if (sub.patterns.some((p) => tokensMatch(p, tokens))) {
        sub.queue.push(msg);
        this.pump(sub);
      }
    }
  }

  /** Drops the events older than the retention (the ring drops those past its bounds itself). */
  private trim(now: number): void {
    while (this.log.size > 0) {
      const { buf, at } = this.log.where(this.log.firstSeq);
      if (buf.readDoubleLE(at) >= now - this.retentionMs) break;
      this.log.dropOldest();
    }
  }

  private retainedId(seq: number): string {
    const { buf, at } = this.log.where(seq);
    const r = new RetainedReader(buf, at);
    r.time();
    return r.string();
  }

  /** The retained events, oldest first, as new messages. */
  private retained(): BusMessage[] {
    const out: BusMessage[] = [];
    for (let seq = this.log.firstSeq; seq < this.log.nextSeq; seq++) {
      const { buf, at } = this.log.where(seq);
      const r = new RetainedReader(buf, at);
      r.time();
      const id = r.string();
      const subject = r.string();
      const headers: Record<string, string> = {};
      for (let n = r.u32(); n > 0; n--) {
        const k = r.string();
        headers[k] = r.string();
      }
      out.push({ subject, data: r.bytes(), headers, id });
    }
    return out;
  }

  /** The ids of the retained events. */
  private retainedIds(): string[] {
    const out: string[] = [];
    for (let seq = this.log.firstSeq; seq < this.log.nextSeq; seq++) out.push(this.retainedId(seq));
    return out;
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    const sub: MemorySub = {
      opts,
      patterns: opts.subjects.map((p) => p.split(".")),
      queue: [],
      head: 0,
      running: false,
      stopped: false,
    };
    let acked = opts.durable ? this.durableAcked.get(opts.durable) : undefined;
    if (opts.durable && !acked) {
      // A new durable consumer starts here: with `new`, what is retained now
      // counts as behind it; what comes later waits for it even while stopped.
      acked = new Set(opts.deliver === "new" ? this.retainedIds() : []);
      this.durableAcked.set(opts.durable, acked);
    }
    if (opts.deliver === "all" || opts.durable) {
      for (const msg of this.retained()) {
        if (!opts.subjects.some((p) => subjectMatches(p, msg.subject))) continue;
        if (acked?.has(msg.id)) continue;
        sub.queue.push(msg);
      }
    }
    this.subs.add(sub);
    this.pump(sub);
    return {
      stop: async () => {
        sub.stopped = true;
        this.subs.delete(sub);
      },
    };
  }

  private pump(sub: MemorySub): void {
    if (sub.running || sub.stopped) return;
    sub.running = true;
    void (async () => {
      while (!sub.stopped && sub.head < sub.queue.length) {
        const msg = sub.queue[sub.head] as BusMessage;
        try {
          await sub.opts.handler(msg);
          // Array#shift moves every element behind the first (a consumer behind by
          // 100,000 events paid that for each one): the head moves instead.
          sub.head++;
          if (sub.head === sub.queue.length) {
            sub.queue = [];
            sub.head = 0;
          } else if (sub.head >= 1024 && sub.head >= sub.queue.length / 2) {
            sub.queue = sub.queue.slice(sub.head);
            sub.head = 0;
          }
          if (sub.opts.durable) {
            const acked = this.durableAcked.get(sub.opts.durable) ?? new Set<string>();
            this.durableAcked.set(sub.opts.durable, acked);
            acked.add(msg.id);
          }
        } catch {
          await new Promise((r) => setTimeout(r, this.redeliveryDelayMs));
        }
      }
      sub.running = false;
    })();
  }

  isReady(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.subs) s.stopped = true;
    this.subs.clear();
  }
}
