import { randomUUID } from "node:crypto";
import { isDuplicateKeyError } from "@pkiserver/kit";
import {
  decodeEntry,
  encodeEntry,
  encodeSignerKey,
  historyKey,
  type KeyEntry,
  leafHash,
  type NoteSigner,
  openCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  TILE_WIDTH,
  type Tile,
  tilePath,
  tilesOf,
  toBase64,
} from "@pkiserver/log";
import { Binary, type Collection, type Db } from "mongodb";
import type { Host, KeyRecord, KeyRef } from "../domain/entities";
import type { KeyHistoryStore } from "../domain/ports";
import type { PublishedCheckpoint, TileRef } from "../domain/transparency";
import { hostEntry, keyEntry, MirroredTransparencyLog } from "./log-mirror";

/** Appended, not yet sequenced. Key entries are named by history and seq, so each is written once. */
interface PendingDoc {
  _id: string;
  entry: Binary;
  /** Append time, the sequencing order (history order is enforced on top of it). */
  at: number;
}

/** A sequenced entry: its _id is its leaf index, never reused. */
interface LeafDoc {
  _id: number;
  entry: Binary;
  hk?: string;
  seq?: number;
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

const bytes = (b: Binary): Uint8Array => new Uint8Array(b.buffer);
const keyId = (hk: string, seq: number) => `k:${hk}:${seq}`;

/** Runs async sections one at a time (per process): the mirror is shared by every request. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * The log on MongoDB, for any number of pki replicas. Writers append entries to log_pending
 * right after their change commits. One replica at a time holds the lease in log_state and
 * sequences: it moves pending entries to log_leaves (index = _id), a history's records in seq
 * order, signs the checkpoint into log_state and stores each tile once it is full. Every replica
 * keeps a mirror of log_leaves up to the checkpoint and answers reads from it.
 */
export class MongoTransparencyLog extends MirroredTransparencyLog {
  private readonly pending: Collection<PendingDoc>;
  private readonly leaves: Collection<LeafDoc>;
  private readonly state: Collection<StateDoc>;
  private readonly tiles: Collection<TileDoc>;
  private readonly lock = new Mutex();
  private readonly owner = randomUUID();
  private storedTiles = new Set<string>();
  private closed = false;

  constructor(
    db: Db,
    signer: NoteSigner,
    /** The histories, to rebuild an entry whose writer stopped before appending it. */
    private readonly keys: KeyHistoryStore,
    private readonly leaseMs: number,
  ) {
    super(signer);
    this.pending = db.collection<PendingDoc>(LOG_COLLECTIONS.pending);
    this.leaves = db.collection<LeafDoc>(LOG_COLLECTIONS.leaves);
    this.state = db.collection<StateDoc>(LOG_COLLECTIONS.state);
    this.tiles = db.collection<TileDoc>(LOG_COLLECTIONS.tiles);
  }

  static async ensureIndexes(db: Db): Promise<void> {
    await db.collection(LOG_COLLECTIONS.pending).createIndex({ at: 1, _id: 1 }, { name: "log_pending_order" });
    await db.collection(LOG_COLLECTIONS.leaves).createIndex({ hk: 1, seq: 1 }, { name: "log_leaves_history" });
  }

  async appendKeyRecord(record: KeyRecord): Promise<void> {
    await this.ensureKeyEntry(record);
  }

  async appendHostChange(host: Host, deleted: boolean, at: number): Promise<void> {
    const entry = new Binary(encodeEntry(hostEntry(host, deleted, at)));
    await this.pending.insertOne({ _id: `h:${randomUUID()}`, entry, at: Date.now() });
  }

  /**
   * Writes a record's entry unless it is there, and returns its leaf hash. `prev` needs the
   * previous record's leaf: when that entry is missing (its writer stopped between the change
   * and the append) it is rebuilt from the history first, so no record is ever left out.
   */
  private async ensureKeyEntry(record: KeyRecord): Promise<Uint8Array> {
    const hk = toBase64(historyKey(record.userId, record.instanceId, record.contextId));
    const seq = record.seq - 1;
    const existing = await this.findKeyEntry(hk, seq);
    if (existing !== undefined) return leafHash(existing);
    let prev: Uint8Array | undefined;
    if (seq > 0) {
      prev = await this.leafOf(hk, seq - 1, record);
    }
    const entry = encodeEntry(keyEntry(record, prev));
    try {
      await this.pending.insertOne({ _id: keyId(hk, seq), entry: new Binary(entry), at: Date.now() });
    } catch (err) {
      // Written by someone else meanwhile: the same bytes, entries being deterministic.
      if (!isDuplicateKeyError(err)) throw err;
    }
    return leafHash(entry);
  }

  private async leafOf(hk: string, seq: number, ref: KeyRef): Promise<Uint8Array> {
    const found = await this.findKeyEntry(hk, seq);
    if (found !== undefined) return leafHash(found);
    const record = (await this.keys.history(ref)).find((r) => r.seq === seq + 1);
    if (record === undefined) throw new Error(`history has no record ${seq + 1}`);
    return this.ensureKeyEntry(record);
  }

  private async findKeyEntry(hk: string, seq: number): Promise<Uint8Array | undefined> {
    // Leaves, then pending, then leaves again: the sequencer moves an entry from one to the other.
    const leaf = await this.leaves.findOne({ hk, seq });
    if (leaf) return bytes(leaf.entry);
    const pending = await this.pending.findOne({ _id: keyId(hk, seq) });
    if (pending) return bytes(pending.entry);
    const moved = await this.leaves.findOne({ hk, seq });
    return moved ? bytes(moved.entry) : undefined;
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

  async sequence(): Promise<void> {
    await this.lock.run(async () => {
      if (this.closed || !(await this.holdLease())) return;
      await this.syncMirror();
      const stored = await this.state.findOne({ _id: "checkpoint" });
      const before = this.mirror.size;
      const batch = await this.pending.find({}).sort({ at: 1, _id: 1 }).limit(1000).toArray();
      // A history's records go in seq order: one whose predecessor is not in yet waits its turn.
      let waiting = batch;
      for (let progress = true; progress && waiting.length > 0; ) {
        progress = false;
        const next: PendingDoc[] = [];
        for (const doc of waiting) {
          const entry = bytes(doc.entry);
          const e = decodeEntry(entry);
          let hk: string | undefined;
          if (e.type === "key") {
            hk = toBase64(historyKey(e.userId, e.instanceId, e.contextId));
            const head = this.mirror.head(hk);
            const last = head === undefined ? -1 : head.seq;
            if (e.seq <= last) {
              await this.pending.deleteOne({ _id: doc._id });
              continue;
            }
            if (e.seq !== last + 1) {
              next.push(doc);
              continue;
            }
          }
          const leaf: LeafDoc = { _id: this.mirror.size, entry: doc.entry };
          if (hk !== undefined) Object.assign(leaf, { hk, seq: (e as KeyEntry).seq });
          await this.leaves.insertOne(leaf);
          this.mirror.add(entry);
          await this.pending.deleteOne({ _id: doc._id });
          progress = true;
        }
        waiting = next;
      }
      if (stored?.size === this.mirror.size && this.mirror.size === before) return;
      const { checkpoint, note } = await this.signHead();
      const size = checkpoint.size;
      await this.state.replaceOne({ _id: "checkpoint" }, { size, note }, { upsert: true });
      await this.storeFullTiles(size);
    });
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
