import { createHash, randomBytes, randomUUID } from "node:crypto";
import { context, propagation } from "@opentelemetry/api";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgHdrs,
  type NatsConnection,
  NatsError,
  nanos,
  headers as natsHeaders,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "nats";
import type { BusMessage, EventBus, SubscribeOptions, Subscription } from "./bus";
import { Streams } from "./events";
import type { Logger } from "./logger";

export interface NatsBusOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Prefix of every subject and stream name; `pkiserver` by default. */
  prefix?: string;
  /** Streams to use: key → relative subject filter. The kit's `Streams` by default. */
  streams?: Readonly<Record<string, string>>;
  /**
   * Retention per stream key (e.g. `{ auth: longest access-token lifetime }`).
   * A stream listed here is created or updated to this max age; one not listed
   * is created with `defaultStreamMaxAgeMs` and otherwise left as it is, so a
   * process that only reads a stream never shortens its retention.
   */
  streamMaxAgeMs?: Readonly<Record<string, number>>;
  /** Max age of a stream created without an explicit one; 7 days by default. */
  defaultStreamMaxAgeMs?: number;
  /** JetStream de-duplication window (by event id); 2 minutes by default. */
  duplicateWindowMs?: number;
  /** Stream replicas (use 3 on a NATS cluster); 1 by default. */
  replicas?: number;
  /** How long createNatsBus waits for a first connection before it fails; 10 s by default. */
  connectTimeoutMs?: number;
  /** How long publish() waits for JetStream's ack before leaving the event to the outbox; 5 s by default. */
  publishAckWaitMs?: number;
  /** Delay before a rejected event is redelivered; 1 s by default. */
  redeliveryDelayMs?: number;
  /** How long an unacknowledged delivery waits before JetStream redelivers it; 30 s by default. */
  ackWaitMs?: number;
  /** Most events kept for retry while NATS is away; publish() rejects beyond it. 100 000 by default. */
  maxOutbox?: number;
  /**
   * Test only: how long each event waits before it is sent to NATS, so a test
   * can stop the process while an event it accepted is not yet published.
   * 0 (no wait) by default.
   */
  testPublishDelayMs?: number;
  /** Connection name shown by the server's monitoring. */
  name?: string;
  logger?: Logger;
}

interface OutboxEntry {
  subject: string;
  data: Uint8Array;
  id: string;
  headers: Record<string, string>;
  acked: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface ConsumerTarget {
  stream: string;
  filter: string;
  name: string;
}

const HEADER_PREFIX_INTERNAL = "nats-";
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

/**
 * The EventBus on NATS JetStream.
 *
 * While the process lives, publishing does not lose an accepted event: each
 * one enters an in-memory queue that a single loop publishes in order,
 * retrying until JetStream acknowledges it (the event id is the
 * `Nats-Msg-Id`, so a retry of an event that did land is dropped by the
 * stream's de-duplication). `publish()` resolves when JetStream has
 * acknowledged the event; when NATS is unreachable, or the ack takes longer
 * than `publishAckWaitMs`, it resolves once the event is queued. `close()`
 * with NATS still away after its grace period drops queued events, and it
 * logs how many; a process that dies loses them. Where that matters (every
 * service on MongoDB), OutboxEventBus stores events durably in front of it.
 */
export class NatsEventBus implements EventBus {
  private readonly outbox: OutboxEntry[] = [];
  private pumping = false;
  private closed = false;
  private connected = true;
  private readonly subs = new Set<NatsSubscription>();
  private readonly streamNames: Record<string, string>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly opts: Required<Omit<NatsBusOptions, "logger" | "name" | "servers" | "testPublishDelayMs">> & {
      logger?: Logger;
      testPublishDelayMs?: number;
    },
  ) {
    this.streamNames = Object.fromEntries(Object.keys(opts.streams).map((key) => [key, streamName(opts.prefix, key)]));
    void this.watchStatus();
  }

  /** Creates each stream when missing; updates retention where it was configured explicitly. */
  async ensureStreams(): Promise<void> {
    const { prefix, streams, streamMaxAgeMs, defaultStreamMaxAgeMs, duplicateWindowMs, replicas } = this.opts;
    for (const [key, subject] of Object.entries(streams)) {
      const name = this.streamNames[key] as string;
      const explicitAge = streamMaxAgeMs[key];
      const maxAgeMs = explicitAge ?? defaultStreamMaxAgeMs;
      const config: Partial<StreamConfig> & { name: string } = {
        name,
        subjects: [`${prefix}.${subject}`],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_age: nanos(maxAgeMs),
        // JetStream refuses a de-duplication window longer than the max age.
        duplicate_window: nanos(Math.min(duplicateWindowMs, maxAgeMs)),
        num_replicas: replicas,
      };
      let existing = await this.jsm.streams.info(name).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (!existing) {
        try {
          await this.jsm.streams.add(config);
          continue;
        } catch (err) {
          // Another process created it between our look and our add, perhaps
          // with another retention: fall through to set ours.
          existing = await this.jsm.streams.info(name).catch(() => undefined);
          if (!existing) throw err;
        }
      }
      if (explicitAge !== undefined && existing.config.max_age !== config.max_age) {
        await this.jsm.streams.update(name, {
          ...existing.config,
          max_age: config.max_age,
          duplicate_window: config.duplicate_window,
        });
      }
    }
  }

  async publish(
    subject: string,
    data: Uint8Array,
    opts: { id?: string; headers?: Record<string, string> } = {},
  ): Promise<void> {
    const headers = { ...(opts.headers ?? {}) };
    propagation.inject(context.active(), headers);
    const entry = this.enqueue(subject, data, opts.id ?? randomUUID(), headers);
    if (!this.connected) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      entry.acked.catch(() => {}),
      new Promise<void>((r) => {
        timer = setTimeout(r, this.opts.publishAckWaitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Publishes with the headers as given and resolves only once JetStream has
   * acknowledged the event; rejects if the bus closes first. For a relay that
   * must know when it may forget an event.
   */
  publishAcked(
    subject: string,
    data: Uint8Array,
    opts: { id: string; headers?: Record<string, string> },
  ): Promise<void> {
    try {
      return this.enqueue(subject, data, opts.id, { ...(opts.headers ?? {}) }).acked;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Throws for an event NATS would refuse on every attempt: kept for retry, it
   * would block every event behind it.
   */
  assertPublishable(subject: string, data: Uint8Array, opts: { id: string; headers?: Record<string, string> }): void {
    if (this.closed) throw new Error("bus closed");
    if (!Object.values(this.opts.streams).some((s) => subjectWithin(subject, s))) {
      throw new Error(`no stream holds subject ${subject}`);
    }
    if (!subject.split(".").every((token) => /^[^\s.*>]+$/.test(token))) {
      throw new Error(`invalid subject ${JSON.stringify(subject)}`);
    }
    const all = { ...(opts.headers ?? {}), "Nats-Msg-Id": opts.id };
    toNatsHeaders(all);
    // Encoded as `NATS/1.0\r\n`, `key: value\r\n` each, then `\r\n`.
    const headerBytes = Object.entries(all).reduce(
      (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 4,
      12,
    );
    const maxPayload = this.nc.info?.max_payload;
    if (maxPayload !== undefined && data.length + headerBytes > maxPayload) {
      throw new Error(`event of ${data.length} bytes exceeds NATS's maximum payload of ${maxPayload} bytes`);
    }
  }

  private enqueue(subject: string, data: Uint8Array, id: string, headers: Record<string, string>): OutboxEntry {
    this.assertPublishable(subject, data, { id, headers });
    if (this.outbox.length >= this.opts.maxOutbox) {
      throw new Error("event outbox full: NATS has been unreachable too long");
    }
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const acked = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Nobody may wait for it (publish() stops waiting): a rejection at close is no crash.
    acked.catch(() => {});
    const entry: OutboxEntry = { subject, data, id, headers, acked, resolve, reject };
    this.outbox.push(entry);
    void this.pump();
    return entry;
  }

  /** Events accepted but not yet acknowledged by JetStream. */
  pendingCount(): number {
    return this.outbox.length;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let delay = RETRY_MIN_MS;
    try {
      while (this.outbox.length > 0 && !this.nc.isClosed()) {
        const entry = this.outbox[0] as OutboxEntry;
        // Unref'd: a held event must not keep a closed bus's process alive.
        if (this.opts.testPublishDelayMs) await new Promise((r) => setTimeout(r, this.opts.testPublishDelayMs).unref());
        try {
          await this.js.publish(`${this.opts.prefix}.${entry.subject}`, entry.data, {
            msgID: entry.id,
            headers: toNatsHeaders(entry.headers),
            timeout: 5000,
          });
          this.outbox.shift();
          entry.resolve();
          delay = RETRY_MIN_MS;
        } catch (err) {
          this.opts.logger?.warn({ err: describe(err), pending: this.outbox.length }, "event publish failed; retrying");
          // "No responders" means no stream took the subject: a server that
          // lost its storage comes back without streams.
          if (err instanceof NatsError && err.code === "503") await this.ensureStreams().catch(() => {});
          await sleep(delay);
          delay = Math.min(delay * 2, RETRY_MAX_MS);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    if (this.closed) throw new Error("bus closed");
    const targets: ConsumerTarget[] = [];
    for (const pattern of opts.subjects) {
      let matched = false;
      for (const [key, streamSubject] of Object.entries(this.opts.streams)) {
        const within = intersectSubjects(pattern, streamSubject);
        if (within === undefined) continue;
        matched = true;
        const stream = this.streamNames[key] as string;
        const filter = `${this.opts.prefix}.${within}`;
        const base = opts.durable ? safeName(opts.durable) : `eph_${randomBytes(6).toString("hex")}`;
        // One consumer per stream and filter (NATS 2.9 takes one filter per
        // consumer); the hash keeps a durable's name stable across restarts.
        const tag = createHash("sha256").update(`${stream} ${filter}`).digest("hex").slice(0, 10);
        targets.push({ stream, filter, name: `${base}_${tag}` });
      }
      if (!matched) throw new Error(`no stream holds subjects matching ${pattern}`);
    }
    const sub = new NatsSubscription(
      {
        nc: this.nc,
        jsm: this.jsm,
        js: this.js,
        prefix: this.opts.prefix,
        redeliveryDelayMs: this.opts.redeliveryDelayMs,
        logger: this.opts.logger,
        isConnected: () => this.connected,
      },
      opts,
    );
    try {
      for (const t of targets) await sub.attach(t, this.consumerConfig(t, opts));
    } catch (err) {
      await sub.stop();
      throw err;
    }
    this.subs.add(sub);
    return {
      stop: async () => {
        this.subs.delete(sub);
        await sub.stop();
      },
    };
  }

  private consumerConfig(t: ConsumerTarget, opts: SubscribeOptions): Partial<ConsumerConfig> {
    return {
      durable_name: t.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: opts.deliver === "all" ? DeliverPolicy.All : DeliverPolicy.New,
      filter_subject: t.filter,
      ack_wait: nanos(this.opts.ackWaitMs),
      max_deliver: -1,
      // A subscription without a durable name still gets a named consumer, so
      // it survives a server restart; the server removes it once it has gone
      // unused this long, in case its process died without stopping it.
      ...(opts.durable ? {} : { inactive_threshold: nanos(3600_000) }),
    };
  }

  isReady(): boolean {
    return !this.closed && this.connected && !this.nc.isClosed();
  }

  /**
   * Stops every subscription, gives the outbox up to `graceMs` to empty while
   * NATS is reachable, then drains the connection.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs) await sub.stop();
    this.subs.clear();
    const deadline = Date.now() + graceMs;
    while (this.outbox.length > 0 && Date.now() < deadline) await sleep(50);
    if (this.outbox.length > 0) {
      this.opts.logger?.error({ dropped: this.outbox.length }, "bus closed with unpublished events");
      for (const entry of this.outbox.splice(0)) entry.reject(new Error("bus closed before the event was published"));
    }
    // Draining needs the server; without it (or if it takes too long) the
    // connection is closed outright, so it stops reconnecting for ever.
    if (this.connected && !this.nc.isClosed()) await withinMs(this.nc.drain(), 2000);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => {});
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect") {
        this.connected = false;
        this.opts.logger?.warn({ server: s.data }, "NATS disconnected; reconnecting");
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.opts.logger?.info({ server: s.data }, "NATS reconnected");
        void this.pump();
      }
    }
    this.connected = false;
  }
}

interface SubscriptionDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  js: JetStreamClient;
  prefix: string;
  redeliveryDelayMs: number;
  logger: Logger | undefined;
  isConnected(): boolean;
}

class NatsSubscription {
  private readonly running: { iter: ConsumerMessages; loop: Promise<void>; target: ConsumerTarget }[] = [];
  private stopped = false;

  constructor(
    private readonly deps: SubscriptionDeps,
    private readonly opts: SubscribeOptions,
  ) {}

  async attach(target: ConsumerTarget, config: Partial<ConsumerConfig>): Promise<void> {
    const { jsm, js, logger } = this.deps;
    const existing = await jsm.consumers.info(target.stream, target.name).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!existing) await jsm.consumers.add(target.stream, config);
    const consumer = await js.consumers.get(target.stream, target.name);
    const iter = await consumer.consume({ max_messages: 32 });
    const loop = this.run(iter).catch((err: unknown) => {
      if (!this.stopped) logger?.error({ err: describe(err), consumer: target.name }, "event consumer ended");
    });
    this.running.push({ iter, loop, target });
  }

  private async run(iter: ConsumerMessages): Promise<void> {
    const { prefix, redeliveryDelayMs, logger } = this.deps;
    for await (const m of iter) {
      if (this.stopped) {
        // Pulled but not handled: hand it back now rather than after ack_wait.
        m.nak();
        continue;
      }
      const msg = toBusMessage(m, prefix);
      const ctx = propagation.extract(context.active(), msg.headers);
      try {
        await context.with(ctx, () => this.opts.handler(msg));
        await m.ackAck().catch(() => m.ack());
      } catch (err) {
        logger?.warn({ err: describe(err), subject: msg.subject, id: msg.id }, "event handler failed");
        m.nak(redeliveryDelayMs);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const { jsm, nc, isConnected } = this.deps;
    for (const r of this.running) r.iter.stop();
    await Promise.all(this.running.map((r) => r.loop));
    // Without the server there is nothing to flush or delete (the server
    // removes an unused consumer without a durable name by itself).
    if (!isConnected() || nc.isClosed()) return;
    await withinMs(nc.flush(), 2000);
    if (!this.opts.durable) {
      for (const r of this.running) await jsm.consumers.delete(r.target.stream, r.target.name).catch(() => {});
    }
  }
}

/** NATS headers from a record; throws for a key or value NATS does not allow. */
function toNatsHeaders(record: Record<string, string>): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(record)) h.set(k, v);
  return h;
}

function toBusMessage(m: JsMsg, prefix: string): BusMessage {
  const headers: Record<string, string> = {};
  let id = "";
  if (m.headers) {
    for (const [k, values] of m.headers) {
      if (k.toLowerCase() === "nats-msg-id") id = values[0] ?? "";
      else if (!k.toLowerCase().startsWith(HEADER_PREFIX_INTERNAL)) headers[k] = values[0] ?? "";
    }
  }
  const subject = m.subject.startsWith(`${prefix}.`) ? m.subject.slice(prefix.length + 1) : m.subject;
  return { subject, data: m.data, headers, id: id || `${m.info.stream}:${m.seq}` };
}

/**
 * Connects to NATS, retrying for `connectTimeoutMs` (it fails with a clear
 * error after that rather than hang), then ensures the streams. Once
 * connected, the client reconnects forever and `isReady()` follows it.
 */
export async function createNatsBus(options: NatsBusOptions): Promise<NatsEventBus> {
  const opts = {
    prefix: options.prefix ?? "pkiserver",
    streams: options.streams ?? Streams,
    streamMaxAgeMs: options.streamMaxAgeMs ?? {},
    defaultStreamMaxAgeMs: options.defaultStreamMaxAgeMs ?? 7 * 24 * 3600_000,
    duplicateWindowMs: options.duplicateWindowMs ?? 120_000,
    replicas: options.replicas ?? 1,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    publishAckWaitMs: options.publishAckWaitMs ?? 5000,
    redeliveryDelayMs: options.redeliveryDelayMs ?? 1000,
    ackWaitMs: options.ackWaitMs ?? 30_000,
    maxOutbox: options.maxOutbox ?? 100_000,
    testPublishDelayMs: options.testPublishDelayMs ?? 0,
    ...(options.logger ? { logger: options.logger } : {}),
  };
  if (!/^[A-Za-z0-9_-]+$/.test(opts.prefix)) throw new Error("bus prefix must be letters, digits, '_' or '-'");
  const deadline = Date.now() + opts.connectTimeoutMs;
  let nc: NatsConnection | undefined;
  let lastError: unknown;
  while (!nc) {
    try {
      nc = await connect({
        servers: options.servers,
        name: options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: Math.max(500, Math.min(2000, deadline - Date.now())),
      });
    } catch (err) {
      lastError = err;
      if (Date.now() + 250 >= deadline) {
        throw new Error(
          `cannot reach NATS at ${String(options.servers)} within ${opts.connectTimeoutMs} ms: ${describe(lastError)}`,
        );
      }
      await sleep(250);
    }
  }
  try {
    const jsm = await nc.jetstreamManager();
    const bus = new NatsEventBus(nc, jsm, nc.jetstream(), opts);
    await bus.ensureStreams();
    return bus;
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/** The stream name for a stream key: `PKISERVER_AUTH` for prefix `pkiserver`, key `auth`. */
export function streamName(prefix: string, key: string): string {
  return `${prefix}_${key}`.toUpperCase().replace(/[^A-Z0-9_-]/g, "_");
}

/**
 * The subjects matched by both NATS patterns, as one pattern, or undefined
 * when they share none. Exact for the shapes used here (literal tokens, `*`,
 * a trailing `>`).
 */
export function intersectSubjects(a: string, b: string): string | undefined {
  const x = a.split(".");
  const y = b.split(".");
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined || q === undefined) return p === q ? out.join(".") : undefined;
    if (p === ">") return [...out, ...y.slice(i)].join(".");
    if (q === ">") return [...out, ...x.slice(i)].join(".");
    if (p === "*") out.push(q);
    else if (q === "*" || p === q) out.push(p);
    else return undefined;
  }
}

function subjectWithin(subject: string, streamSubject: string): boolean {
  return intersectSubjects(subject, streamSubject) === subject && !/[*>]/.test(subject);
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
}

function isNotFound(err: unknown): boolean {
  return err instanceof NatsError && (err.api_error?.code === 404 || err.code === "404");
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Waits for `p` (ignoring its failure) at most `ms`. */
async function withinMs(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
