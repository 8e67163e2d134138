import { randomUUID } from "node:crypto";
import { ByteRing } from "./byte-ring";

/** One delivered event. `subject` is relative to the bus's prefix. */
export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** Unique per published event; consumers use it to stay idempotent. */
  readonly id: string;
  /**
   * The event's value as decoding `data` would give it (publishEvent copies the
   * publisher's with the message type's fromPartial): only on an in-process
   * bus's live delivery (never after a transport or a replay). `decodeEvent`
   * returns it instead of decoding `data`; every consumer of the event gets the
   * same object, so it is read-only.
   */
  readonly value?: unknown;
}

/** What a publisher may add to an event besides its subject and data. */
export interface PublishOptions {
  /** Names the event for de-duplication (a random one when absent). */
  id?: string;
  headers?: Record<string, string>;
  /** The decoded event, for an in-process bus to hand to its consumers (see BusMessage.value); others ignore it. */
  value?: unknown;
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
  /** True for a bus whose consumers are in this process: it hands them the value published (PublishOptions.value). */
  readonly inProcess?: boolean;
  publish(subject: string, data: Uint8Array, opts?: PublishOptions): Promise<void>;
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
 * A retained event in the bus's ring: its time (float64), the length of what
 * follows of it (u32), its id, subject and headers as JSON, then its data.
 */
const RETAINED_HEAD = 12;

function retainedMeta(msg: BusMessage): string {
  return JSON.stringify([msg.id, msg.subject, msg.headers]);
}

function decodeRetained(buf: Buffer, at: number, length: number): BusMessage {
  const metaEnd = at + RETAINED_HEAD + buf.readUInt32LE(at + 8);
  const [id, subject, headers] = JSON.parse(buf.toString("utf8", at + RETAINED_HEAD, metaEnd)) as [
    string,
    string,
    Record<string, string>,
  ];
  // A copy: the ring's bytes are reused.
  const data = new Uint8Array(at + length - metaEnd);
  data.set(buf.subarray(metaEnd, at + length));
  return { subject, data, headers, id };
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
  readonly inProcess = true;
  /** Retained events, oldest first. */
  private readonly log: ByteRing;
  /** Ids of the retained events, for de-duplication without a scan. */
  private readonly ids = new Set<string>();
  /** The id of the retained event in each of the ring's slots. */
  private readonly idBySlot: (string | undefined)[];
  private readonly subs = new Set<MemorySub>();
  private readonly durableAcked = new Map<string, Set<string>>();
  private closed = false;

  constructor(
    private readonly retentionMs = 24 * 3600_000,
    private readonly redeliveryDelayMs = 200,
    maxRetained = 10_000,
    maxRetainedBytes = DEFAULT_RETAINED_BYTES,
  ) {
    this.idBySlot = new Array<string | undefined>(maxRetained).fill(undefined);
    // What consumers remember of a dropped event goes with it.
    this.log = new ByteRing(maxRetained, maxRetainedBytes, (seq) => {
      const slot = seq % maxRetained;
      const id = this.idBySlot[slot] as string;
      this.idBySlot[slot] = undefined;
      this.ids.delete(id);
      for (const acked of this.durableAcked.values()) acked.delete(id);
    });
  }

  async publish(subject: string, data: Uint8Array, opts: PublishOptions = {}) {
    if (this.closed) throw new Error("bus closed");
    const msg: BusMessage = {
      subject,
      data,
      headers: { ...(opts.headers ?? {}) },
      id: opts.id ?? randomUUID(),
      value: opts.value,
    };
    // Publishing a retained id again is a no-op, as with JetStream's de-duplication.
    if (this.ids.has(msg.id)) return;
    const now = Date.now();
    this.trim(now);
    const meta = retainedMeta(msg);
    const metaLength = Buffer.byteLength(meta);
    const seq = this.log.push(RETAINED_HEAD + metaLength + data.length, (buf, at) => {
      buf.writeDoubleLE(now, at);
      buf.writeUInt32LE(metaLength, at + 8);
      buf.write(meta, at + RETAINED_HEAD, "utf8");
      buf.set(data, at + RETAINED_HEAD + metaLength);
    });
    // An event larger than the whole ring is delivered but not retained.
    if (seq >= 0) {
      this.idBySlot[seq % this.idBySlot.length] = msg.id;
      this.ids.add(msg.id);
    }
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
    while (
      this.log.size > 0 &&
      this.log.buffer.readDoubleLE(this.log.offsetOf(this.log.firstSeq)) < now - this.retentionMs
    ) {
      this.log.dropOldest();
    }
  }

  /** The retained events, oldest first, as new messages. */
  private retained(): BusMessage[] {
    const out: BusMessage[] = [];
    for (let seq = this.log.firstSeq; seq < this.log.nextSeq; seq++) {
      out.push(decodeRetained(this.log.buffer, this.log.offsetOf(seq), this.log.lengthOf(seq)));
    }
    return out;
  }

  /** The ids of the retained events. */
  private retainedIds(): string[] {
    const out: string[] = [];
    for (let seq = this.log.firstSeq; seq < this.log.nextSeq; seq++) {
      out.push(this.idBySlot[seq % this.idBySlot.length] as string);
    }
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
