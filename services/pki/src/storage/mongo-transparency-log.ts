import { randomUUID } from "node:crypto";
import { AppError, isDuplicateKeyError, isOnlyDuplicateKeyErrors } from "@pkiserver/kit";
import {
  decodeEntry,
  encodeEntry,
  encodeSignerKey,
  type HostEntry,
  type LogEntry,
  leafHash,
  type NoteSigner,
  openCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  TILE_WIDTH,
  type Tile,
  tilePath,
  tilesOf,
} from "@pkiserver/log";
import { Binary, type Collection, type Db, MongoBulkWriteError, type ObjectId } from "mongodb";
import type { Host } from "../domain/entities";
import type { HostStore } from "../domain/ports";
import type { PublishedCheckpoint, TileRef, TransparencyLog } from "../domain/transparency";
import { toRecord } from "./key-history";
import { hostEntry, keyEntry, type LogMirror, MirroredTransparencyLog } from "./log-mirror";
import {
  KEY_HISTORY_COLLECTION,
  type KeyRecordDoc,
  LOG_QUEUE_COLLECTION,
  type QueuedKeyRecordDoc,
} from "./mongo-key-history-store";

/**
 * A host change's log entry. Written as an intent (`since`, no entry) before the change, then
 * completed with the host's state after it (`entry`, `at`); the sequencer takes completed ones.
 * A key record queued by its writer (`key`, `at`) waits in the same collection.
 */
interface PendingDoc {
  _id: string;
  /** A queued key record (see QueuedKeyRecordDoc). */
  key?: QueuedKeyRecordDoc["key"];
  /** The host changed (absent on entries written before intents existed). */
  instanceId?: string;
  entry?: Binary;
  /** Completion time, the sequencing order (history order is enforced on top of it). */
  at?: number;
  /** Intent time, while the change runs. */
  since?: number;
  /** Completed by the sequencer from the host's state: dropped if that state is already logged. */
  replayed?: boolean;
}

/** A sequenced entry: its _id is its leaf index, never reused. */
interface LeafDoc {
  _id: number;
  entry: Binary;
  hk?: string;
  seq?: number;
  /** The log_pending document it came from, for host changes. */
  src?: string;
}

interface StateDoc {
  _id: string;
  owner?: string;
  until?: number;
  size?: number;
  note?: string;
  /** `_id` "scan": every record whose intent (`logAt`) is before this is in the log or queued. */
  from?: number;
}

interface TileDoc {
  _id: string;
  data: Binary;
}

export const LOG_COLLECTIONS = {
  pending: LOG_QUEUE_COLLECTION,
  leaves: "log_leaves",
  state: "log_state",
  tiles: "log_tiles",
} as const;

/** Where a change or a sequencing round may be stopped by a test, to check what a crash there leaves. */
export type LogCrashPoint = "host-changed" | "record-written" | "leaves-written" | "intents-cleared";

export interface MongoLogOptions {
  /** How long a replica holds the sequencer lease without renewing it. */
  readonly leaseMs: number;
  /**
   * After this long a host-change intent that was not completed is taken as its writer's crash
   * and completed from the host's state, and a key record not queued for the log as its writer's
   * crash before queueing it: the sequencer scans the records of the last such span this often
   * (default 30 s: well past every call's deadline).
   */
  readonly intentTimeoutMs?: number;
  /** Tests only: called at each crash point (a test kills the process there). */
  readonly crashPoint?: (point: LogCrashPoint) => void | Promise<void>;
}

/** Entries one sequencing round takes from the queue. */
const ROUND_LIMIT = 1000;

/** Records one scan of recent intents reads; a longer span is read over several rounds. */
const SCAN_LIMIT = 10_000;

const bytes = (b: Binary): Uint8Array => new Uint8Array(b.buffer);

/** Runs async sections one at a time (per process): the mirror is shared by every request. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** One entry waiting to be integrated: a key record that carries its intent, or a pending host change. */
type Candidate =
  | {
      readonly kind: "key";
      readonly at: number;
      readonly doc: KeyRecordDoc;
      /** Its log_pending document, when it was queued rather than found in its history. */
      readonly queued?: string;
    }
  | { readonly kind: "pending"; readonly at: number; readonly doc: PendingDoc };

/** A scan of key_history for intents that were not queued, and where it started. */
interface IntentScan {
  readonly from: number;
  readonly startedAt: number;
  readonly docs: (KeyRecordDoc & { _id: ObjectId })[];
}

/**
 * The log on MongoDB, for any number of pki replicas. Nothing of a change is written without
 * its entry's intent: a key record is written with `logAt` set (the record is the intent, one
 * write) and then queued in log_pending, a host change is preceded by an intent in log_pending
 * and completes it. One replica at a time holds the lease in log_state and sequences: it
 * integrates queued records and completed host changes into log_leaves (index = _id) in one
 * insert per round, a history's records in seq order, deletes what it took from log_pending,
 * signs the checkpoint into log_state and stores each tile once it is full. Every intent timeout
 * it also scans the records of the last timeout for any whose writer stopped before queueing it.
 * A round stopped anywhere is finished by the next one: leaves already written are recognised (a
 * history's seq, a host change's source), so nothing is lost or logged twice. Every replica
 * keeps a mirror of log_leaves up to the checkpoint and answers reads from it.
 *
 * The rounds read and delete only in log_pending, which holds what waits: on FerretDB, which
 * filters and updates by scanning a whole collection, clearing an intent on each record in
 * key_history cost more the more records there were (13 s for a round of 1,000 among 6,000).
 */
export class MongoTransparencyLog extends MirroredTransparencyLog implements TransparencyLog {
  private readonly pending: Collection<PendingDoc>;
  private readonly leaves: Collection<LeafDoc>;
  private readonly state: Collection<StateDoc>;
  private readonly tiles: Collection<TileDoc>;
  private readonly history: Collection<KeyRecordDoc>;
  private readonly lock = new Mutex();
  private readonly owner = randomUUID();
  private readonly leaseMs: number;
  private readonly intentTimeoutMs: number;
  private storedTiles = new Set<string>();
  private closed = false;
  /**
   * When this replica next scans for records not queued and completes host changes whose writer
   * stopped (at its first round, then every intent timeout).
   */
  private nextScanAt = 0;
  /** The mirror has every leaf as of this replica's last round, which it finished. */
  private mirrorCurrent = false;
  /** Until when this replica holds the lease, by its last renewal (0: it does not). */
  private leaseUntil = 0;

  constructor(
    db: Db,
    signer: NoteSigner,
    /** The hosts, to complete the intent of a change whose writer stopped before completing it. */
    private readonly hosts: HostStore,
    private readonly options: MongoLogOptions,
  ) {
    super(signer);
    this.pending = db.collection<PendingDoc>(LOG_COLLECTIONS.pending);
    this.leaves = db.collection<LeafDoc>(LOG_COLLECTIONS.leaves);
    this.state = db.collection<StateDoc>(LOG_COLLECTIONS.state);
    this.tiles = db.collection<TileDoc>(LOG_COLLECTIONS.tiles);
    this.history = db.collection<KeyRecordDoc>(KEY_HISTORY_COLLECTION);
    this.leaseMs = options.leaseMs;
    this.intentTimeoutMs = options.intentTimeoutMs ?? 30_000;
  }

  static async ensureIndexes(db: Db): Promise<void> {
    await db.collection(LOG_COLLECTIONS.pending).createIndex({ at: 1, _id: 1 }, { name: "log_pending_order" });
    await db.collection(LOG_COLLECTIONS.pending).createIndex({ since: 1 }, { name: "log_pending_intents" });
    await db.collection(LOG_COLLECTIONS.leaves).createIndex({ hk: 1, seq: 1 }, { name: "log_leaves_history" });
    await db.collection(LOG_COLLECTIONS.leaves).createIndex({ src: 1 }, { name: "log_leaves_source" });
    // Records whose entry is not in the log yet; a range on logAt leaves out every record without it.
    await db.collection(KEY_HISTORY_COLLECTION).createIndex({ logAt: 1 }, { name: "key_history_log_intent" });
  }

  async logHostChange(deleted: boolean, instanceId: string, change: () => Promise<Host>, at: () => number) {
    const id = `h:${randomUUID()}`;
    await this.pending.insertOne({ _id: id, instanceId, since: Date.now() });
    let host: Host;
    try {
      host = await change();
    } catch (err) {
      // Refused: nothing changed. Any other failure may have changed something: the intent
      // stays, to be completed from the host's state (and dropped if that is already logged).
      if (err instanceof AppError && err.code.startsWith("pki.")) {
        await this.pending.deleteOne({ _id: id, since: { $exists: true } }).catch(() => undefined);
      }
      throw err;
    }
    await this.options.crashPoint?.("host-changed");
    const entry = new Binary(encodeEntry(hostEntry(host, deleted, at())));
    const done = await this.pending.updateOne(
      { _id: id, since: { $exists: true } },
      { $set: { entry, at: Date.now() }, $unset: { since: "" } },
    );
    // The sequencer took it for a crash meanwhile and logged the state it found: log this one too.
    if (done.matchedCount === 0) {
      await this.pending.insertOne({ _id: `h:${randomUUID()}`, instanceId, entry, at: Date.now() });
    }
    return host;
  }

  /** Extends the mirror with sequenced leaves up to `size` (all of them when undefined). */
  private async syncMirror(size?: number): Promise<void> {
    if (size !== undefined && this.mirror.size >= size) return;
    const filter =
      size === undefined ? { _id: { $gte: this.mirror.size } } : { _id: { $gte: this.mirror.size, $lt: size } };
    const docs = await this.leaves.find(filter).sort({ _id: 1 }).toArray();
    for (const d of docs) {
      if (d._id !== this.mirror.size) throw new Error(`log leaf ${this.mirror.size} is missing`);
      this.mirror.add(bytes(d.entry));
    }
  }

  /**
   * Takes or renews the lease: "renewed" when this replica held it since its last round (no
   * other replica can have sequenced meanwhile), "taken" when it did not, undefined when another
   * replica holds it.
   */
  private async holdLease(): Promise<"renewed" | "taken" | undefined> {
    const now = Date.now();
    // Not renewed while more than two thirds of it are left (pki makes it three rounds or more):
    // no other replica takes it before it runs out, and each renewal is a write.
    if (now < this.leaseUntil - (2 * this.leaseMs) / 3) return "renewed";
    try {
      const before = await this.state.findOneAndUpdate(
        { _id: "lease", $or: [{ owner: this.owner }, { until: { $lt: now } }] },
        { $set: { owner: this.owner, until: now + this.leaseMs } },
        { upsert: true, returnDocument: "before" },
      );
      this.leaseUntil = now + this.leaseMs;
      // Another replica that took the lease meanwhile left its own name, or deleted it on close.
      return before?.owner === this.owner ? "renewed" : "taken";
    } catch (err) {
      // Another replica holds it: the upsert collided with its document.
      this.leaseUntil = 0;
      if (isDuplicateKeyError(err)) return undefined;
      throw err;
    }
  }

  /**
   * Completes host-change intents left longer than the timeout (their writer stopped) with the
   * host's state now. Conditional on the intent still being one: a writer completing it first wins.
   */
  private async replayIntents(): Promise<void> {
    const stale = await this.pending
      .find({ since: { $lt: Date.now() - this.intentTimeoutMs } })
      .limit(ROUND_LIMIT)
      .toArray();
    for (const doc of stale) {
      const instanceId = doc.instanceId ?? "";
      const host = await this.hosts.get(instanceId);
      const state = host ?? { instanceId, hostPubKey: instanceId, addresses: [] };
      const entry = new Binary(encodeEntry(hostEntry(state, host === undefined, Date.now())));
      await this.pending.updateOne(
        { _id: doc._id, since: { $exists: true } },
        { $set: { entry, at: Date.now(), replayed: true }, $unset: { since: "" } },
      );
    }
  }

  async sequence(): Promise<PublishedCheckpoint | undefined> {
    return this.lock.run(async () => {
      const lease = this.closed ? undefined : await this.holdLease();
      if (lease === undefined) return undefined;
      // Held since the last round: the mirror already has every leaf (this replica wrote them).
      if (lease === "taken" || !this.mirrorCurrent) await this.syncMirror();
      this.mirrorCurrent = false;
      const scanDue = Date.now() >= this.nextScanAt;
      if (scanDue) await this.replayIntents();
      const stored = await this.state.findOne({ _id: "checkpoint" });
      const [queued, scan] = await Promise.all([
        this.pending
          .find({ at: { $gte: 0 } })
          .sort({ at: 1, _id: 1 })
          .limit(ROUND_LIMIT)
          .toArray(),
        scanDue ? this.scanIntents() : undefined,
      ]);
      const candidates: Candidate[] = [];
      const changes: PendingDoc[] = [];
      for (const doc of queued) {
        if (doc.key !== undefined) candidates.push({ kind: "key", at: doc.at ?? 0, doc: doc.key, queued: doc._id });
        else {
          candidates.push({ kind: "pending", at: doc.at ?? 0, doc });
          changes.push(doc);
        }
      }
      for (const doc of scan?.docs ?? []) candidates.push({ kind: "key", at: doc.logAt ?? 0, doc });
      candidates.sort((x, y) => x.at - y.at);
      const round = new Round(this.mirror);
      // A host change already in the log (a round stopped before clearing it) is not added again.
      const hostIds = changes.map((c) => c._id);
      const logged = new Set(
        hostIds.length === 0
          ? []
          : (await this.leaves.find({ src: { $in: hostIds } }, { projection: { src: 1 } }).toArray()).map((l) => l.src),
      );
      let waiting = round.take(candidates, logged);
      if (waiting.length > 0) {
        // Their predecessors are not among the intents taken: read them from the histories
        // (written by a replica whose clock is behind, or before the log existed) and retry.
        await this.fillGaps(round, waiting);
        waiting = round.take(waiting, logged);
      }
      if (round.leaves.length > 0) {
        try {
          await this.leaves.insertMany(round.leaves, { ordered: true });
        } catch (err) {
          // Another sequencer wrote these indexes (its lease outlived ours): take up its leaves next round.
          const written = err instanceof MongoBulkWriteError ? err.insertedCount : 0;
          round.integrate(written);
          throw err;
        }
        round.integrate(round.leaves.length);
        await this.options.crashPoint?.("leaves-written");
      }
      // Only now: a round that failed before here may have written leaves the mirror lacks.
      this.mirrorCurrent = true;
      if (round.donePending.length > 0) await this.pending.deleteMany({ _id: { $in: round.donePending } });
      if (round.leaves.length > 0) await this.options.crashPoint?.("intents-cleared");
      if (scan !== undefined) await this.scanned(scan, waiting);
      if (stored?.size === this.mirror.size && round.leaves.length === 0) return undefined;
      const cp = await this.signMirror();
      await this.state.replaceOne({ _id: "checkpoint" }, { size: cp.size, note: cp.note }, { upsert: true });
      await this.storeFullTiles(cp.size);
      return cp;
    });
  }

  /**
   * The records whose intent is at or after the last scan's mark: those not in the log yet were
   * not queued (their writer stopped in between, or the queue's insert failed), or are queued
   * and not taken yet.
   */
  private async scanIntents(): Promise<IntentScan> {
    const startedAt = Date.now();
    const from = (await this.state.findOne({ _id: "scan" }))?.from ?? 0;
    const docs = await this.history
      .find({ logAt: { $gte: from } })
      .sort({ logAt: 1, _id: 1 })
      .limit(SCAN_LIMIT)
      .toArray();
    return { from, startedAt, docs };
  }

  /**
   * Moves the scan's mark once the round's leaves are written: to the intent timeout before the
   * scan (a writer may still queue what it wrote since), or, when the scan was cut at its limit,
   * to where it stopped; never past a scanned record still waiting for its predecessors.
   */
  private async scanned(scan: IntentScan, waiting: readonly Candidate[]): Promise<void> {
    const full = scan.docs.length === SCAN_LIMIT;
    let mark = full
      ? Math.max(scan.docs[scan.docs.length - 1]?.logAt ?? scan.from, scan.from + 1)
      : Math.max(scan.from, scan.startedAt - this.intentTimeoutMs);
    for (const c of waiting) {
      if (c.kind === "key" && c.queued === undefined && c.doc.logAt !== undefined) mark = Math.min(mark, c.doc.logAt);
    }
    if (mark !== scan.from) await this.state.updateOne({ _id: "scan" }, { $set: { from: mark } }, { upsert: true });
    this.nextScanAt = full ? 0 : scan.startedAt + this.intentTimeoutMs;
  }

  /** Adds the records missing before each waiting record's seq to the round, read from its history. */
  private async fillGaps(round: Round, waiting: Candidate[]): Promise<void> {
    const gaps = new Map<string, { ref: KeyRecordDoc; from: number; to: number }>();
    for (const c of waiting) {
      if (c.kind !== "key") continue;
      const hk = round.historyOf(c.doc);
      const from = round.nextSeq(hk);
      const gap = gaps.get(hk);
      if (gap === undefined || c.doc.seq < gap.to) gaps.set(hk, { ref: c.doc, from, to: c.doc.seq });
    }
    const found: Candidate[] = [];
    for (const { ref, from, to } of gaps.values()) {
      const docs = await this.history
        .find({
          userId: ref.userId,
          instanceId: ref.instanceId,
          contextId: ref.contextId,
          seq: { $gte: from, $lt: to },
        })
        .sort({ seq: 1 })
        .toArray();
      for (const doc of docs) found.push({ kind: "key", at: 0, doc });
    }
    waiting.unshift(...found);
  }

  /** Full tiles never change: each is written once, for caches and auditors to read as is. */
  private async storeFullTiles(size: number): Promise<void> {
    const full: TileDoc[] = [];
    for (const t of tilesOf(size)) {
      if (t.width !== TILE_WIDTH) continue;
      const path = tilePath(t);
      if (this.storedTiles.has(path)) continue;
      const data = await this.mirror.tile(t as Tile, size);
      full.push({ _id: path, data: new Binary(data!) });
    }
    if (full.length === 0) return;
    try {
      // One insert for the round's tiles; one stored before (by this replica's last run, or
      // another's) is left as it is.
      await this.tiles.insertMany(full, { ordered: false });
    } catch (err) {
      if (!isOnlyDuplicateKeyErrors(err) && !isDuplicateKeyError(err)) throw err;
    }
    for (const t of full) this.storedTiles.add(t._id);
  }

  async close(): Promise<void> {
    await this.lock.run(async () => {
      this.closed = true;
      this.leaseUntil = 0;
      await this.state.deleteOne({ _id: "lease", owner: this.owner });
    });
  }

  async checkpoint(): Promise<PublishedCheckpoint> {
    return this.lock.run(async () => {
      const doc = await this.state.findOne({ _id: "checkpoint" });
      if (!doc?.note || doc.size === undefined) throw new Error("no checkpoint signed yet");
      await this.syncMirror(doc.size);
      // Opening it checks it was signed by this log's key, not just written into the collection.
      const c = openCheckpoint(doc.note, parseVerifierKey(this.verifierKey));
      return { ...c, note: doc.note, verifierKey: this.verifierKey };
    });
  }

  override async tile(tile: TileRef): Promise<Uint8Array | undefined> {
    const cp = await this.checkpoint();
    if (tile.width === TILE_WIDTH) {
      const stored = await this.tiles.findOne({ _id: tilePath(tile as Tile) });
      if (stored) return bytes(stored.data);
    }
    return this.mirror.tile(tile, cp.size);
  }
}

/**
 * The leaves one sequencing round adds after the mirror, planned before any is written: each
 * history's next seq and newest leaf, and each host's newest state, as the round leaves them.
 */
class Round {
  readonly leaves: LeafDoc[] = [];
  /** Each leaf's entry decoded and its leaf hash, as the round made them. */
  private readonly known: { entry: LogEntry; leaf: Uint8Array }[] = [];
  /** The log_pending documents the round took: deleted once its leaves are written. */
  readonly donePending: string[] = [];
  private readonly heads = new Map<string, { leaf: Uint8Array; seq: number }>();
  private readonly hostStates = new Map<string, HostEntry>();

  constructor(private readonly mirror: LogMirror) {}

  historyOf(doc: KeyRecordDoc): string {
    return this.mirror.historyHash(doc);
  }

  private head(hk: string): { leaf: Uint8Array; seq: number } | undefined {
    return this.heads.get(hk) ?? this.mirror.head(hk);
  }

  /** The domain seq (from 1) the history's next record must have. */
  nextSeq(hk: string): number {
    return (this.head(hk)?.seq ?? -1) + 2;
  }

  private add(entry: Uint8Array, known: { entry: LogEntry; leaf: Uint8Array }, extra: Omit<LeafDoc, "_id" | "entry">) {
    this.leaves.push({ _id: this.mirror.size + this.leaves.length, entry: new Binary(entry), ...extra });
    this.known.push(known);
  }

  /** Adds the round's first `count` leaves, once written, to the mirror (without decoding or hashing them again). */
  integrate(count: number): void {
    for (let i = 0; i < count; i++) this.mirror.add(bytes(this.leaves[i]!.entry), this.known[i]);
  }

  /**
   * Adds every candidate that can go now, in order, repeating while any does; returns the key
   * records still waiting for a predecessor.
   */
  take(candidates: Candidate[], logged: Set<string | undefined>): Candidate[] {
    let waiting = candidates;
    for (let progress = true; progress && waiting.length > 0; ) {
      progress = false;
      const next: Candidate[] = [];
      for (const c of waiting) {
        if (c.kind === "key") {
          const doc = c.doc;
          const hk = this.historyOf(doc);
          const head = this.head(hk);
          const seq = doc.seq - 1;
          const last = head === undefined ? -1 : head.seq;
          if (seq > last + 1) {
            next.push(c);
            continue;
          }
          if (c.queued !== undefined) this.donePending.push(c.queued);
          // Already in the log (a round stopped before clearing the intent).
          if (seq <= last) continue;
          const record = toRecord(doc, doc.seq, doc.createDate, {
            ...(typeof doc.userPubKey === "string" ? { userPubKey: doc.userPubKey } : {}),
            ...(typeof doc.customData === "string" ? { customData: doc.customData } : {}),
          });
          const logged = keyEntry(record, head?.leaf);
          const entry = encodeEntry(logged);
          const leaf = leafHash(entry);
          this.heads.set(hk, { leaf, seq });
          this.add(entry, { entry: logged, leaf }, { hk, seq });
          progress = true;
          continue;
        }
        const doc = c.doc;
        this.donePending.push(doc._id);
        if (doc.entry === undefined || logged.has(doc._id)) continue;
        const entry = bytes(doc.entry);
        const e = decodeEntry(entry);
        if (e.type === "key") {
          // Written by an earlier version, which appended key entries here.
          const hk = this.historyOf(e);
          const last = this.head(hk)?.seq ?? -1;
          if (e.seq > last + 1) {
            this.donePending.pop();
            next.push(c);
            continue;
          }
          if (e.seq <= last) continue;
          const leaf = leafHash(entry);
          this.heads.set(hk, { leaf, seq: e.seq });
          this.add(entry, { entry: e, leaf }, { hk, seq: e.seq });
        } else {
          const before = this.hostStates.get(e.instanceId) ?? this.mirror.hostHead(e.instanceId);
          // A state found after a crash that is what the log already says: the change had not happened.
          if (doc.replayed && sameHostState(before, e)) continue;
          this.hostStates.set(e.instanceId, e);
          this.add(entry, { entry: e, leaf: leafHash(entry) }, { src: doc._id });
        }
        progress = true;
      }
      waiting = next;
    }
    return waiting;
  }
}

/** Whether a replayed host state is the one logged before (or no host and none logged). */
function sameHostState(before: HostEntry | undefined, after: HostEntry): boolean {
  if (before === undefined) return after.deleted;
  return (
    before.deleted === after.deleted &&
    before.hostPubKey === after.hostPubKey &&
    before.addresses.length === after.addresses.length &&
    before.addresses.every((a, i) => a === after.addresses[i])
  );
}

/**
 * The signing key every replica shares: the configured one, else one made by the first replica
 * and kept in log_state (set PMX_LOG_SIGNING_KEY in production: a key kept next to the data
 * protects checkpoints only against readers, not against whoever can write the database).
 */
export async function sharedLogSigner(
  db: Db,
  configured: NoteSigner | undefined,
  make: () => NoteSigner,
): Promise<NoteSigner> {
  if (configured) return configured;
  const state = db.collection<StateDoc & { key?: string }>(LOG_COLLECTIONS.state);
  try {
    await state.insertOne({ _id: "signer", key: encodeSignerKey(make()) });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  const doc = await state.findOne({ _id: "signer" });
  if (!doc?.key) throw new Error("log signing key missing from log_state");
  return parseSignerKey(doc.key);
}
