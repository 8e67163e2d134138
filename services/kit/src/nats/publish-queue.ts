import type { JetStreamClient, NatsConnection } from "nats";
import { NatsError } from "nats";
import pRetry from "p-retry";
import type { Logger } from "../logger";
import { subjectWithin, toNatsHeaders } from "./subjects";
import { describe, sleep } from "./util";

interface QueuedEvent {
  subject: string;
  data: Uint8Array;
  id: string;
  headers: Record<string, string>;
  acked: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface PublishQueueDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  prefix: string;
  /** Stream key → relative subject filter: a subject no stream holds is refused up front. */
  streams: Readonly<Record<string, string>>;
  /** Most events kept while NATS is away. */
  maxQueued: number;
  /** Test only: how long each event waits before it is sent. */
  testPublishDelayMs?: number;
  logger?: Logger | undefined;
  /** Called when no stream took a subject (a server that lost its storage comes back without streams). */
  restoreStreams(): Promise<void>;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

/**
 * The events a process has accepted and JetStream has not acknowledged yet,
 * published in order by a single loop that retries until each is
 * acknowledged (the event id is the `Nats-Msg-Id`, so a retry of an event
 * that did land is dropped by the stream's de-duplication).
 */
export class PublishQueue {
  private readonly queued: QueuedEvent[] = [];
  private pumping = false;
  private closed = false;

  constructor(private readonly deps: PublishQueueDeps) {}

  get length(): number {
    return this.queued.length;
  }

  /**
   * Throws for an event NATS would refuse on every attempt: kept for retry, it
   * would block every event behind it.
   */
  assertPublishable(subject: string, data: Uint8Array, opts: { id: string; headers?: Record<string, string> }): void {
    if (this.closed) throw new Error("bus closed");
    if (!Object.values(this.deps.streams).some((s) => subjectWithin(subject, s))) {
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
    const maxPayload = this.deps.nc.info?.max_payload;
    if (maxPayload !== undefined && data.length + headerBytes > maxPayload) {
      throw new Error(`event of ${data.length} bytes exceeds NATS's maximum payload of ${maxPayload} bytes`);
    }
  }

  /** Queues an event; its `acked` resolves when JetStream acknowledges it and rejects if the queue closes first. */
  enqueue(subject: string, data: Uint8Array, id: string, headers: Record<string, string>): { acked: Promise<void> } {
    this.assertPublishable(subject, data, { id, headers });
    if (this.queued.length >= this.deps.maxQueued) {
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
    this.queued.push({ subject, data, id, headers, acked, resolve, reject });
    void this.pump();
    return { acked };
  }

  /** Publishes what is queued, in order; called again when NATS comes back. */
  async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const { nc, js, prefix, logger, testPublishDelayMs } = this.deps;
    try {
      while (this.queued.length > 0 && !nc.isClosed()) {
        const entry = this.queued[0] as QueuedEvent;
        // Unref'd: a held event must not keep a closed bus's process alive.
        if (testPublishDelayMs) await new Promise((r) => setTimeout(r, testPublishDelayMs).unref());
        try {
          await pRetry(
            () =>
              js.publish(`${prefix}.${entry.subject}`, entry.data, {
                msgID: entry.id,
                headers: toNatsHeaders(entry.headers),
                timeout: 5000,
              }),
            {
              retries: Number.POSITIVE_INFINITY,
              minTimeout: RETRY_MIN_MS,
              maxTimeout: RETRY_MAX_MS,
              onFailedAttempt: async ({ error }) => {
                logger?.warn({ err: describe(error), pending: this.queued.length }, "event publish failed; retrying");
                if (error instanceof NatsError && error.code === "503")
                  await this.deps.restoreStreams().catch(() => {});
              },
              shouldRetry: () => !nc.isClosed(),
            },
          );
        } catch {
          // The connection closed (or the error is one no retry mends): the
          // event stays first in the queue for the next pump.
          break;
        }
        this.queued.shift();
        entry.resolve();
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Refuses new events, gives the queue up to `graceMs` to empty, then
   * rejects what is left and returns how many events were dropped.
   */
  async close(graceMs: number): Promise<number> {
    this.closed = true;
    const deadline = Date.now() + graceMs;
    while (this.queued.length > 0 && Date.now() < deadline) await sleep(50);
    const dropped = this.queued.splice(0);
    for (const entry of dropped) entry.reject(new Error("bus closed before the event was published"));
    return dropped.length;
  }
}
