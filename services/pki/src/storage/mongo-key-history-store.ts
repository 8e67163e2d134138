import { performance } from "node:perf_hooks";
import { AppError, GroupCommit, isDuplicateKeyError } from "@pkiserver/kit";
import { type Collection, type Db, type Filter, MongoBulkWriteError, type ObjectId } from "mongodb";
import type { KeyEntry, KeyRecord, KeyRef } from "../domain/entities";
import type { Clock, KeyHistoryStore } from "../domain/ports";
import {
  APPEND_RETRY_BUDGET_MS,
  historyKey,
  MAX_APPEND_BATCH,
  MAX_PENDING_APPENDS,
  nextCreateDate,
  toRecord,
} from "./key-history";
import type { LogCrashPoint } from "./mongo-transparency-log";

export interface KeyRecordDoc {
  userId: string;
  instanceId: string;
  contextId: string;
  seq: number;
  createDate: number;
  userPubKey?: string;
  /** Kept as text: caller JSON may hold keys MongoDB treats specially ($, dots). */
  customData?: string;
  /**
   * The wall time of the write, on every record written while the transparency log is on: the
   * record carries its own log intent, so no change is ever written without it. Right after the
   * insert the writer queues a copy in log_pending for the sequencer; a record whose writer
   * stopped before that is found by the sequencer's periodic scan of recent intents. (The field
   * stays: clearing it cost an update per record, and FerretDB scans the whole collection for
   * each update.) Records written while the log was off have none.
   */
  logAt?: number;
}

export const KEY_HISTORY_COLLECTION = "key_history";

/**
 * Where entries wait for the log's sequencer: host changes and, queued by the writer right after
 * their insert, copies of key records (`_id` "k:" and the record's id).
 */
export const LOG_QUEUE_COLLECTION = "log_pending";

/** A key record queued for the log's sequencer. */
export interface QueuedKeyRecordDoc {
  _id: string;
  /** The record's `logAt`: the sequencing order (history order is enforced on top of it). */
  at: number;
  key: KeyRecordDoc & { _id: ObjectId };
}

export interface MongoKeyHistoryOptions {
  /** Marks every record written with its log intent (`logAt`) and queues it for the log: the log is on. */
  readonly logIntents?: boolean;
  /** Tests only: called between a record's insert and its queueing for the log. */
  readonly crashPoint?: (point: LogCrashPoint) => void | Promise<void>;
}

const NO_ID = { projection: { _id: 0 } } as const;

/** An append waiting for its history's writer. */
interface PendingAppend {
  readonly next: (last: KeyRecord | undefined) => KeyEntry;
  readonly clock: Clock;
  resolve(record: KeyRecord): void;
  reject(err: unknown): void;
}

/** What an append comes to when judged against the record before it. */
type Planned = { readonly append: PendingAppend } & ({ readonly record: KeyRecord } | { readonly refusal: unknown });

/** Histories whose newest written record a replica remembers. */
const MAX_WRITTEN_HINTS = 16_384;

/**
 * Histories in MongoDB, one document per record. The unique index on
 * (history, seq) makes concurrent appends race safely: a writer inserts
 * last.seq + 1, and the loser of a race re-reads and tries again.
 *
 * Within one replica, the appends to one history wait in a queue that a single
 * writer serves in batches: it reads the newest record, has each waiting
 * append judge the record before it (the newest, or the one the append before
 * it in the batch will write), and inserts the batch's records in one ordered
 * insertMany. So the writers of one replica never race each other, a burst on
 * one history costs a few round trips rather than two per append, and only
 * other replicas can take a seq first; then the records before the lost seq
 * are kept and the rest are judged again after a fresh read. (Letting every
 * append race made each round a scramble of the whole burst, and the last
 * writers of 100 concurrent calls ran out of time.)
 *
 * An append is refused only against a record that was the newest at a moment
 * it was waiting: the fresh read (the batch is taken before it), or a record
 * of its batch that was inserted.
 *
 * The writer remembers the newest record it wrote per history and plans the
 * next batch on it without reading: records are never changed in what a plan
 * reads nor removed, so the hint is either still the newest or another
 * replica took its next seq, which the insert reports as a lost race (then
 * the hint is dropped and the history read). A plan that refuses an append is
 * made again on a fresh read, since a refusal writes nothing that could
 * collide. (FerretDB cannot use the index for the newest record and scans the
 * whole collection, so this read grew with every record stored.)
 */
export class MongoKeyHistoryStore implements KeyHistoryStore {
  private readonly col: Collection<KeyRecordDoc>;
  /** Appends waiting per history; a history is here while its writer runs. */
  private readonly queues = new Map<string, PendingAppend[]>();
  /** Per history, the newest record this replica wrote (bounded; see the class comment). */
  private readonly written = new Map<string, KeyRecord>();

  private readonly logIntents: boolean;
  private readonly logQueue: Collection<QueuedKeyRecordDoc>;
  /** Queues written records for the log, those of every history written meanwhile in one insert. */
  private readonly logQueueing = new GroupCommit<QueuedKeyRecordDoc>(async (docs) => {
    await this.options.crashPoint?.("record-written");
    await this.logQueue.insertMany(docs as QueuedKeyRecordDoc[], { ordered: false });
    return docs.map(() => undefined);
  });

  constructor(
    db: Db,
    private readonly options: MongoKeyHistoryOptions = {},
  ) {
    this.col = db.collection<KeyRecordDoc>(KEY_HISTORY_COLLECTION);
    this.logQueue = db.collection<QueuedKeyRecordDoc>(LOG_QUEUE_COLLECTION);
    this.logIntents = options.logIntents === true;
  }

  static async ensureIndexes(db: Db): Promise<void> {
    const col = db.collection<KeyRecordDoc>(KEY_HISTORY_COLLECTION);
    await col.createIndex(
      { userId: 1, instanceId: 1, contextId: 1, seq: 1 },
      { name: "key_history_seq", unique: true },
    );
    // Serves the lookups by time: the newest record at or before a date is the
    // first index entry at or below it, whatever the history's length.
    await col.createIndex({ userId: 1, instanceId: 1, contextId: 1, createDate: -1 }, { name: "key_history_date" });
  }

  append(ref: KeyRef, next: (last: KeyRecord | undefined) => KeyEntry, clock: Clock): Promise<KeyRecord> {
    const key = historyKey(ref);
    const queue = this.queues.get(key);
    if (queue && queue.length >= MAX_PENDING_APPENDS) {
      return Promise.reject(
        new AppError("rpc.too_many_requests", {
          internal: `more than ${MAX_PENDING_APPENDS} appends waiting on one key history`,
        }),
      );
    }
    return new Promise<KeyRecord>((resolve, reject) => {
      const append: PendingAppend = { next, clock, resolve, reject };
      if (queue) {
        queue.push(append);
        return;
      }
      const fresh = [append];
      this.queues.set(key, fresh);
      void this.write(key, ref, fresh);
    });
  }

  /**
   * Serves `queue` until it is empty, then removes it in the same step, so an
   * append never joins a queue nobody serves. Never rejects: each append is
   * settled instead.
   */
  private async write(key: string, ref: KeyRef, queue: PendingAppend[]): Promise<void> {
    // Wall time, not the domain clock: tests freeze that one.
    let losingSince: number | undefined;
    let lost = 0;
    for (;;) {
      if (queue.length === 0) {
        this.queues.delete(key);
        return;
      }
      const batch = queue.slice(0, MAX_APPEND_BATCH);
      let planned: Planned[];
      const hint = this.written.get(key);
      try {
        planned = hint === undefined ? [] : plan(ref, batch, hint);
        if (hint === undefined || planned.some((p) => "refusal" in p))
          planned = plan(ref, batch, await this.latest(ref));
      } catch (err) {
        settle(queue, batch.length, (a) => a.reject(err));
        continue;
      }
      const records = planned.flatMap((p) => ("record" in p ? [p.record] : []));
      let inserted = records.length;
      let failure: unknown;
      if (records.length > 0) {
        // Copies: the driver adds _id to the objects it inserts.
        const logAt = this.logIntents ? Date.now() : undefined;
        const docs: KeyRecordDoc[] = records.map((r) => (logAt === undefined ? { ...r } : { ...r, logAt }));
        try {
          await this.col.insertMany(docs, { ordered: true });
        } catch (err) {
          inserted = insertedBefore(err);
          if (!isLostRace(err)) failure = err;
        }
        if (logAt !== undefined && inserted > 0) await this.queueForLog(docs.slice(0, inserted), logAt);
      }
      // Everything up to the first record not written was judged against what
      // is now in the history: settle it. The rest waits for the next round.
      let done = 0;
      let written = 0;
      for (const p of planned) {
        if ("record" in p) {
          if (written === inserted) break;
          written++;
          p.append.resolve(p.record);
        } else {
          p.append.reject(p.refusal);
        }
        done++;
      }
      if (failure !== undefined) {
        this.written.delete(key);
        // Not a race: whatever it is, the appends left in this batch share it.
        settle(queue, batch.length, (a, i) => (i < done ? undefined : a.reject(failure)));
        continue;
      }
      queue.splice(0, done);
      this.remember(key, inserted > 0 ? records[inserted - 1] : undefined, inserted === records.length);
      if (inserted === records.length) {
        losingSince = undefined;
        continue;
      }
      // Another replica took the next seq; what was settled is progress all the same.
      lost++;
      if (done > 0) {
        losingSince = undefined;
        continue;
      }
      losingSince ??= performance.now();
      if (performance.now() - losingSince > APPEND_RETRY_BUDGET_MS) {
        const err = new AppError("rpc.internal", {
          internal: `key history append lost ${lost} races in ${APPEND_RETRY_BUDGET_MS} ms`,
        });
        settle(queue, batch.length, (a) => a.reject(err));
      }
    }
  }

  /**
   * Queues written records for the log's sequencer, which then reads a short queue rather than
   * searching key_history. The records of every history written meanwhile go in one insert
   * (one at a time per replica: what comes while one runs waits for the next). Never rejects: a
   * record not queued (a failed insert, a writer stopped before it) still carries its intent,
   * and the sequencer's scan of recent intents finds it.
   */
  private async queueForLog(docs: readonly KeyRecordDoc[], at: number): Promise<void> {
    try {
      await Promise.all(
        docs.map((d) => {
          const key = d as KeyRecordDoc & { _id: ObjectId };
          return this.logQueueing.add({ _id: `k:${key._id.toHexString()}`, at, key });
        }),
      );
    } catch {
      // Found by the scan (see above).
    }
  }

  /**
   * Keeps `record` as the history's newest known (when this round wrote one);
   * drops what was kept when the round lost a race (it is behind).
   */
  private remember(key: string, record: KeyRecord | undefined, complete: boolean): void {
    if (!complete) {
      this.written.delete(key);
      return;
    }
    if (record === undefined) return;
    if (!this.written.has(key) && this.written.size >= MAX_WRITTEN_HINTS) {
      const oldest = this.written.keys().next().value;
      if (oldest !== undefined) this.written.delete(oldest);
    }
    this.written.set(key, record);
  }

  async latest(ref: KeyRef): Promise<KeyRecord | undefined> {
    const doc = await this.col.findOne(filter(ref), { projection: NO_ID.projection, sort: { seq: -1 } });
    return doc ? fromDoc(doc) : undefined;
  }

  async at(ref: KeyRef, date: number): Promise<KeyRecord | undefined> {
    const docs = await this.col
      .find(filter(ref, { $lte: date }), NO_ID)
      .sort({ createDate: -1 })
      .limit(1)
      .toArray();
    const doc = docs[0];
    return doc ? fromDoc(doc) : undefined;
  }

  async history(ref: KeyRef): Promise<KeyRecord[]> {
    const docs = await this.col.find(filter(ref), NO_ID).sort({ createDate: -1 }).toArray();
    return docs.map(fromDoc);
  }
}

/** The history's documents; with `createDate`, those it matches. */
function filter(ref: KeyRef, createDate?: { $lte: number }): Filter<KeyRecordDoc> {
  // Written out: a literal that starts with a spread and adds keys is slow on node 20.
  return createDate === undefined
    ? { userId: ref.userId, instanceId: ref.instanceId, contextId: ref.contextId }
    : { userId: ref.userId, instanceId: ref.instanceId, contextId: ref.contextId, createDate };
}

function fromDoc(doc: KeyRecordDoc): KeyRecord {
  return toRecord(doc, doc.seq, doc.createDate, {
    ...(typeof doc.userPubKey === "string" ? { userPubKey: doc.userPubKey } : {}),
    ...(typeof doc.customData === "string" ? { customData: doc.customData } : {}),
  });
}

/** Judges each append against the record before it: `last`, then the record of the append before. */
function plan(ref: KeyRef, batch: readonly PendingAppend[], last: KeyRecord | undefined): Planned[] {
  let prev = last;
  return batch.map((append) => {
    try {
      const record = toRecord(ref, (prev?.seq ?? 0) + 1, nextCreateDate(append.clock.now(), prev), append.next(prev));
      prev = record;
      return { append, record };
    } catch (refusal) {
      return { append, refusal };
    }
  });
}

/** Removes the first `count` appends of `queue`, applying `fn` to each. */
function settle(queue: PendingAppend[], count: number, fn: (a: PendingAppend, i: number) => void): void {
  queue.splice(0, count).forEach(fn);
}

/** How many records of an ordered insertMany were written before it failed. */
function insertedBefore(err: unknown): number {
  if (err instanceof MongoBulkWriteError) return err.insertedCount;
  // A single-document failure, or one before anything was written.
  return 0;
}

/** Whether an ordered insertMany stopped at a seq another writer took first. */
function isLostRace(err: unknown): boolean {
  if (err instanceof MongoBulkWriteError) {
    const first = [err.writeErrors].flat()[0];
    return first?.code === 11000;
  }
  return isDuplicateKeyError(err);
}
