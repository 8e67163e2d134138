import { createHash, randomBytes, randomUUID } from "node:crypto";
import { context, propagation } from "@opentelemetry/api";
import {
  AckPolicy,
  type ConsumerConfig,
  connect,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  nanos,
} from "nats";
import pRetry from "p-retry";
import type { EventBus, PublishOptions, SubscribeOptions, Subscription } from "./bus";
import { maskUrl } from "./config";
import { Streams } from "./events";
import type { Logger } from "./logger";
import { PublishQueue } from "./nats/publish-queue";
import { ensureStreams } from "./nats/streams";
import { intersectSubjects, safeName, streamName } from "./nats/subjects";
import { type ConsumerTarget, NatsSubscription } from "./nats/subscription";
import { describe, withinMs } from "./nats/util";

/*
 * The EventBus on NATS JetStream. The parts live in ./nats/: subjects and
 * names (subjects.ts), stream set-up (streams.ts), the in-order publish queue
 * (publish-queue.ts) and consumers (subscription.ts); this file puts them
 * together and connects.
 */

export { intersectSubjects, streamName } from "./nats/subjects";

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

type ResolvedOptions = Required<Omit<NatsBusOptions, "logger" | "name" | "servers" | "testPublishDelayMs">> & {
  logger?: Logger;
  testPublishDelayMs?: number;
};

/**
 * The EventBus on NATS JetStream.
 *
 * While the process lives, publishing does not lose an accepted event: each
 * one enters an in-memory queue that a single loop publishes in order,
 * retrying until JetStream acknowledges it. `publish()` resolves when
 * JetStream has acknowledged the event; when NATS is unreachable, or the ack
 * takes longer than `publishAckWaitMs`, it resolves once the event is queued.
 * `close()` with NATS still away after its grace period drops queued events,
 * and it logs how many; a process that dies loses them. Where that matters
 * (every service on MongoDB), OutboxEventBus stores events durably in front of it.
 */
export class NatsEventBus implements EventBus {
  private readonly queue: PublishQueue;
  private closed = false;
  private connected = true;
  private readonly subs = new Set<NatsSubscription>();
  private readonly streamNames: Record<string, string>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly opts: ResolvedOptions,
  ) {
    this.streamNames = Object.fromEntries(Object.keys(opts.streams).map((key) => [key, streamName(opts.prefix, key)]));
    this.queue = new PublishQueue({
      nc,
      js,
      prefix: opts.prefix,
      streams: opts.streams,
      maxQueued: opts.maxOutbox,
      ...(opts.testPublishDelayMs ? { testPublishDelayMs: opts.testPublishDelayMs } : {}),
      logger: opts.logger,
      restoreStreams: () => this.ensureStreams(),
    });
    void this.watchStatus();
  }

  /** Creates each stream when missing; updates retention where it was configured explicitly. */
  ensureStreams(): Promise<void> {
    return ensureStreams(this.jsm, this.opts);
  }

  async publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): Promise<void> {
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
    this.queue.assertPublishable(subject, data, opts);
  }

  private enqueue(subject: string, data: Uint8Array, id: string, headers: Record<string, string>) {
    if (this.closed) throw new Error("bus closed");
    return this.queue.enqueue(subject, data, id, headers);
  }

  /** Events accepted but not yet acknowledged by JetStream. */
  pendingCount(): number {
    return this.queue.length;
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
   * Stops every subscription, gives the queue up to `graceMs` to empty while
   * NATS is reachable, then drains the connection.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs) await sub.stop();
    this.subs.clear();
    const dropped = await this.queue.close(graceMs);
    if (dropped > 0) this.opts.logger?.error({ dropped }, "bus closed with unpublished events");
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
        void this.queue.pump();
      }
    }
    this.connected = false;
  }
}

/** Pause between attempts to reach NATS at start. */
const CONNECT_RETRY_MS = 250;

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
  let nc: NatsConnection;
  try {
    nc = await pRetry(
      () =>
        connect({
          servers: options.servers,
          name: options.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          timeout: Math.max(500, Math.min(2000, deadline - Date.now())),
        }),
      {
        retries: Number.POSITIVE_INFINITY,
        factor: 1,
        minTimeout: CONNECT_RETRY_MS,
        shouldRetry: () => Date.now() + CONNECT_RETRY_MS < deadline,
      },
    );
  } catch (err) {
    throw new Error(
      `cannot reach NATS at ${[options.servers]
        .flat()
        .flatMap((s) => s.split(","))
        .map((s) => maskUrl(s.trim()))
        .join(",")} within ${opts.connectTimeoutMs} ms: ${describe(err)}`,
    );
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
