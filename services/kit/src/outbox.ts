import { randomUUID } from "node:crypto";
import { context, propagation, ROOT_CONTEXT } from "@opentelemetry/api";
import { Binary, type Collection, type Db, MongoBulkWriteError } from "mongodb";
import type { EventBus, PublishOptions, SubscribeOptions, Subscription } from "./bus";
import { describe } from "./errors";
import { GroupCommit } from "./group-commit";
import type { Logger } from "./logger";
import { countOutboxPending } from "./metrics";
import { isDuplicateKeyError } from "./mongo";

export const OUTBOX_COLLECTION = "event_outbox";

/** How long close() waits for the deletes of acknowledged events. */
const CLOSE_WAIT_MS = 2000;

/** What the outbox needs of the bus it relays to, beyond the port. NatsEventBus has both. */
export interface RelayTarget extends EventBus {
  /** Resolves only once the transport holds the event; without it, `publish` resolving counts as that. */
  publishAcked?(
    subject: string,
    data: Uint8Array,
    opts: { id: string; headers?: Record<string, string> },
  ): Promise<void>;
  /** Throws for an event the transport would refuse on every attempt. */
  assertPublishable?(subject: string, data: Uint8Array, opts: { id: string; headers?: Record<string, string> }): void;
}

export interface OutboxOptions {
  /**
   * How long a relay's claim on an event lasts; it renews the claim while it
   * still holds the event, and once the claim lapses (its process died) any
   * relay takes the event over. 6 s by default.
   */
  leaseMs?: number;
  /** How often a relay renews its claims and looks for events nobody holds; 2 s by default. */
  sweepIntervalMs?: number;
  /** How long publish() waits for the transport's acknowledgement before it resolves anyway; 5 s by default. */
  ackWaitMs?: number;
  /** Most events one relay holds at once; it takes over no more beyond it. 10 000 by default. */
  maxHeld?: number;
  logger?: Logger;
}

interface OutboxDoc {
  /** The event id, which the transport de-duplicates by (JetStream's Nats-Msg-Id). */
  _id: string;
  subject: string;
  data: Binary;
  /**
   * A list, not an object: header names may hold characters MongoDB keys may
   * not. Of objects, not pairs: FerretDB does not store nested arrays.
   */
  headers: { name: string; value: string }[];
  /** When the event was accepted (ms): relays take events over oldest first. */
  createdAt: number;
  /** The relay holding the event, and until when its claim lasts (ms). */
  owner: string;
  leaseUntil: number;
}

/** What became of an event's insert into the outbox. */
type InsertOutcome = "stored" | "duplicate" | { readonly error: unknown };

/**
 * A transactional outbox in MongoDB in front of an event bus: an accepted
 * event is stored in the service's database before `publish()` returns, and a
 * relay sends it to the bus and deletes it once the bus has acknowledged it.
 * A process that dies holding events leaves them in the collection, where its
 * successor or any other replica takes them over once its claim lapses.
 *
 * What holds, given that FerretDB 1.x (and MongoDB outside a replica set) has
 * no multi-document transactions, so the event cannot be written in the same
 * transaction as the change it reports:
 * - The event document is written after the store write and before the
 *   service replies (the use cases await publish). A reply therefore means the
 *   event is durable; a crash between the store write and this insert (one
 *   round trip) still loses the event, and nothing else does.
 * - Delivery is at least once: an event is published again when a relay dies
 *   between the acknowledgement and the delete, or two relays hold it for a
 *   moment. It keeps its id, so JetStream drops the repeat within its
 *   de-duplication window, and consumers are idempotent beyond it.
 * - Order: a relay publishes the events it accepted in the order they were
 *   accepted. Events taken over from a dead relay are published after those
 *   live relays have already sent, oldest first among themselves.
 * - When MongoDB refuses the insert, the event goes to the bus directly and is
 *   kept in memory only, as without an outbox.
 */
export class OutboxEventBus implements EventBus {
  private readonly col: Collection<OutboxDoc>;
  /** This relay's name in the documents it claims; new in every process. */
  private readonly owner = randomUUID();
  /** Events this relay is sending, by id: whether each was sent, once known. */
  private readonly held = new Map<string, Promise<boolean>>();
  private readonly opts: Required<Omit<OutboxOptions, "logger">> & { logger?: Logger };
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private closed = false;
  /** Stops counting this relay's events in the process's metrics. */
  private readonly uncount = countOutboxPending(() => this.held.size);
  /**
   * The events accepted, and the ones acknowledged, while the last insert or delete ran go in
   * one insert and one delete: a use case's events (a grant's session opened and the one it
   * closed) and those of concurrent calls share a round trip.
   */
  private readonly inserts = new GroupCommit<OutboxDoc, InsertOutcome>((docs) => this.insertAll(docs));
  private readonly deletes = new GroupCommit<string>((ids) => this.deleteAll(ids));

  private constructor(
    private readonly inner: RelayTarget,
    db: Db,
    options: OutboxOptions,
  ) {
    this.col = db.collection<OutboxDoc>(OUTBOX_COLLECTION);
    this.opts = {
      leaseMs: options.leaseMs ?? 6000,
      sweepIntervalMs: options.sweepIntervalMs ?? 2000,
      ackWaitMs: options.ackWaitMs ?? 5000,
      maxHeld: options.maxHeld ?? 10_000,
      ...(options.logger ? { logger: options.logger } : {}),
    };
  }

  /** Creates the outbox's index and starts the relay, which first takes over what earlier processes left. */
  static async start(inner: RelayTarget, db: Db, options: OutboxOptions = {}): Promise<OutboxEventBus> {
    const bus = new OutboxEventBus(inner, db, options);
    await bus.col.createIndex({ leaseUntil: 1, createdAt: 1 }, { name: "outbox_lease" });
    bus.scheduleSweep(0);
    return bus;
  }

  async publish(subject: string, data: Uint8Array, opts: PublishOptions = {}) {
    if (this.closed) throw new Error("bus closed");
    const id = opts.id ?? randomUUID();
    const headers = { ...(opts.headers ?? {}) };
    propagation.inject(context.active(), headers);
    // Refused before it is stored: the relay would retry it for ever.
    this.inner.assertPublishable?.(subject, data, { id, headers });
    const now = Date.now();
    const doc: OutboxDoc = {
      _id: id,
      subject,
      data: new Binary(data),
      headers: Object.entries(headers).map(([name, value]) => ({ name, value })),
      createdAt: now,
      owner: this.owner,
      leaseUntil: now + this.opts.leaseMs,
    };
    const stored = await this.inserts.add(doc);
    // The same event is already waiting: its relay sends it.
    if (stored === "duplicate") return;
    if (stored !== "stored") {
      this.opts.logger?.warn(
        { err: describe(stored.error), eventId: id },
        "event outbox unavailable; event kept in memory only",
      );
      return this.inner.publish(subject, data, { id, headers });
    }
    const acked = this.relay(doc);
    if (!this.inner.isReady()) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([acked, new Promise<void>((r) => (timer = setTimeout(r, this.opts.ackWaitMs)))]);
    clearTimeout(timer);
  }

  subscribe(opts: SubscribeOptions): Promise<Subscription> {
    return this.inner.subscribe(opts);
  }

  isReady(): boolean {
    return !this.closed && this.inner.isReady();
  }

  /** Events stored and not yet acknowledged, by every relay. */
  pendingCount(): Promise<number> {
    return this.col.countDocuments();
  }

  /**
   * Stops the relay and closes the bus (which gets its own grace to send what
   * it holds). What is still unsent stays in MongoDB, released for another
   * relay to take at once.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.uncount();
    clearTimeout(this.sweepTimer);
    await this.sweeping;
    const held = [...this.held.entries()];
    await this.inner.close();
    // Each held event is now acknowledged (its delete under way) or refused by
    // the closed bus; one a transport never settles counts as unsent.
    const sent = new Set<string>();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(held.map(([id, p]) => p.then((ok) => ok && sent.add(id)))),
      new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    const unsent = held.map(([id]) => id).filter((id) => !sent.has(id));
    if (unsent.length === 0) return;
    await this.col
      .updateMany({ _id: { $in: unsent }, owner: this.owner }, { $set: { leaseUntil: 0 } })
      .catch(() => undefined);
    this.opts.logger?.info({ events: unsent.length }, "unsent events left in the outbox for another relay");
  }

  /**
   * Sends one event and deletes it once acknowledged. Resolves true when it
   * was sent, false when it stays in the outbox (a sweep retries it once this
   * relay's claim lapses); never rejects.
   */
  private relay(doc: OutboxDoc): Promise<boolean> {
    const existing = this.held.get(doc._id);
    if (existing) return existing;
    const headers = Object.fromEntries(doc.headers.map((h) => [h.name, h.value]));
    const data = doc.data.read(0, doc.data.length());
    // The trace the event was accepted in, not the sweep's.
    const sent = context
      .with(propagation.extract(ROOT_CONTEXT, headers), () =>
        this.inner.publishAcked
          ? this.inner.publishAcked(doc.subject, data, { id: doc._id, headers })
          : this.inner.publish(doc.subject, data, { id: doc._id, headers }),
      )
      .then(
        async () => {
          // A failed delete means the event is published again later: a duplicate, never a loss.
          await this.deletes.add(doc._id).catch((err: unknown) => {
            this.opts.logger?.warn({ err: describe(err), eventId: doc._id }, "sent event not removed from the outbox");
          });
          return true;
        },
        (err: unknown) => {
          if (!this.closed) {
            this.opts.logger?.warn(
              { err: describe(err), eventId: doc._id },
              "event not relayed; it stays in the outbox",
            );
          }
          return false;
        },
      )
      .finally(() => {
        this.held.delete(doc._id);
      });
    this.held.set(doc._id, sent);
    return sent;
  }

  /** Inserts accepted events in one write; says for each whether it is stored. */
  private async insertAll(docs: readonly OutboxDoc[]): Promise<InsertOutcome[]> {
    try {
      await this.col.insertMany(docs as OutboxDoc[], { ordered: false });
      return docs.map(() => "stored");
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) {
        // Not a per-document failure (a lone document's duplicate at most): none is stored.
        const duplicate = docs.length === 1 && isDuplicateKeyError(err);
        return docs.map(() => (duplicate ? "duplicate" : { error: err }));
      }
      // Unordered: every document without a write error of its own is stored.
      const failed = new Map([err.writeErrors].flat().map((e) => [e.index, e] as const));
      return docs.map((_, i) => {
        const e = failed.get(i);
        if (e === undefined) return "stored";
        return e.code === 11000 ? "duplicate" : { error: err };
      });
    }
  }

  private async deleteAll(ids: readonly string[]): Promise<undefined[]> {
    await this.col.deleteMany({ _id: { $in: [...ids] } });
    return ids.map(() => undefined);
  }

  private scheduleSweep(delayMs: number): void {
    if (this.closed) return;
    this.sweepTimer = setTimeout(() => {
      this.sweeping = this.sweep()
        .catch((err: unknown) => {
          this.opts.logger?.warn({ err: describe(err) }, "event outbox sweep failed");
        })
        .finally(() => {
          this.sweeping = undefined;
          this.scheduleSweep(this.opts.sweepIntervalMs);
        });
    }, delayMs);
    this.sweepTimer.unref();
  }

  /** Renews this relay's claims, then takes over events whose claim has lapsed. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    const leaseUntil = now + this.opts.leaseMs;
    const held = [...this.held.keys()];
    for (let i = 0; i < held.length; i += 1000) {
      await this.col.updateMany({ _id: { $in: held.slice(i, i + 1000) }, owner: this.owner }, { $set: { leaseUntil } });
    }
    const room = this.opts.maxHeld - this.held.size;
    if (room <= 0 || this.closed || !this.inner.isReady()) return;
    const lapsed = await this.col
      .find({ leaseUntil: { $lt: now } }, { projection: { _id: 1 } })
      .sort({ createdAt: 1, _id: 1 })
      .limit(room)
      .toArray();
    for (const { _id } of lapsed) {
      if (this.closed) return;
      if (this.held.has(_id)) continue;
      // Conditional on the lapse, so of relays sweeping at once one takes it.
      const doc = await this.col.findOneAndUpdate(
        { _id, leaseUntil: { $lt: now } },
        { $set: { owner: this.owner, leaseUntil } },
        { returnDocument: "after" },
      );
      if (doc) void this.relay(doc);
    }
  }
}
