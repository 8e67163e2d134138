import { randomUUID } from "node:crypto";
import { AppError, isDuplicateKeyError } from "@pkiserver/kit";
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
import { KEY_HISTORY_COLLECTION, type KeyRecordDoc } from "./mongo-key-history-store";

/**
 * A host change's log entry. Written as an intent (`since`, no entry) before the change, then
 * completed with the host's state after it (`entry`, `at`); the sequencer takes completed ones.
 */
interface PendingDoc {
  _id: string;
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
}

interface TileDoc {
  _id: string;
  data: Binary;
}

export const LOG_COLLECTIONS = {
  pending: "log_pending",
  leaves: "log_leaves",
  state: "log_state",
  tiles: "log_tiles",
} as const;

/** Where a sequencing round may be stopped by a test, to check what a crash there leaves. */
export type LogCrashPoint = "host-changed" | "leaves-written" | "intents-cleared";

export interface MongoLogOptions {
  /** How long a replica holds the sequencer lease without renewing it. */
  readonly leaseMs: number;
  /**
   * After this long a host-change intent that was not completed is taken as its writer's crash
   * and completed from the host's state (default 30 s: well past every call's deadline).
   */
  readonly intentTimeoutMs?: number;
  /** Tests only: called at each crash point (a test kills the process there). */
  readonly crashPoint?: (point: LogCrashPoint) => void | Promise<void>;
}

/** Entries one sequencing round takes from each source. */
const ROUND_LIMIT = 1000;

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
  | { readonly kind: "key"; readonly at: number; readonly doc: KeyRecordDoc & { _id: ObjectId } }
  | { readonly kind: "pending"; readonly at: number; readonly doc: PendingDoc };

/**
 * The log on MongoDB, for any number of pki replicas. Nothing of a change is written without
 * its entry's intent: a key record is written with `logAt` set (the record is the intent, one
 * write), a host change is preceded by an intent in log_pending and completes it. One replica at
 * a time holds the lease in log_state and sequences: it integrates records and completed host
 * changes into log_leaves (index = _id) in one insert per round, a history's records in seq
 * order, clears their intents, signs the checkpoint into log_state and stores each tile once it
 * is full. A round stopped anywhere is finished by the next one: leaves already written are
 * recognised (a history's seq, a host change's source), so nothing is lost or logged twice.
 * Every replica keeps a mirror of log_leaves up to the checkpoint and answers reads from it.
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

  private async holdLease(): Promise<boolean> {
    const now = Date.now();
    try {
      await this.state.findOneAndUpdate(
        { _id: "lease", $or: [{ owner: this.owner }, { until: { $lt: now } }] },
        { $set: { owner: this.owner, until: now + this.leaseMs } },
        { upsert: true },
      );
      return true;
    } catch (err) {
      // Another replica holds it: the upsert collided with its document.
      if (isDuplicateKeyError(err)) return false;
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
      if (this.closed || !(await this.holdLease())) return undefined;
      await this.syncMirror();
      await this.replayIntents();
      const stored = await this.state.findOne({ _id: "checkpoint" });
      const [records, changes] = await Promise.all([
        this.history
          .find({ logAt: { $gte: 0 } })
          .sort({ logAt: 1, _id: 1 })
          .limit(ROUND_LIMIT)
          .toArray(),
        this.pending
          .find({ at: { $gte: 0 } })
          .sort({ at: 1, _id: 1 })
          .limit(ROUND_LIMIT)
          .toArray(),
      ]);
      const candidates: Candidate[] = [
        ...records.map((doc) => ({ kind: "key" as const, at: doc.logAt ?? 0, doc })),
        ...changes.map((doc) => ({ kind: "pending" as const, at: doc.at ?? 0, doc })),
      ].sort((x, y) => x.at - y.at);
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
      if (round.doneRecords.length > 0) {
        await this.history.updateMany({ _id: { $in: round.doneRecords } }, { $unset: { logAt: "" } });
      }
      if (round.donePending.length > 0) await this.pending.deleteMany({ _id: { $in: round.donePending } });
      if (round.leaves.length > 0) await this.options.crashPoint?.("intents-cleared");
      if (stored?.size === this.mirror.size && round.leaves.length === 0) return undefined;
      const cp = await this.signMirror();
      await this.state.replaceOne({ _id: "checkpoint" }, { size: cp.size, note: cp.note }, { upsert: true });
      await this.storeFullTiles(cp.size);
      return cp;
    });
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
    for (const t of tilesOf(size)) {
      if (t.width !== TILE_WIDTH) continue;
      const path = tilePath(t);
      if (this.storedTiles.has(path)) continue;
      const data = await this.mirror.tile(t as Tile, size);
      try {
        await this.tiles.insertOne({ _id: path, data: new Binary(data!) });
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
      this.storedTiles.add(path);
    }
  }

  async close(): Promise<void> {
    await this.lock.run(async () => {
      this.closed = true;
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
  readonly doneRecords: ObjectId[] = [];
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
          if (doc.logAt !== undefined) this.doneRecords.push(doc._id);
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
