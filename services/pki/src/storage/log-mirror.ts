import { AppError, invalidParams } from "@pkiserver/kit/core";
import {
  decodeEntry,
  EntryBlocks,
  encodeEntryBundle,
  encodeVerifierKey,
  HashLevels,
  HeadMap,
  type HostEntry,
  historyKey,
  type KeyEntry,
  KeyEntryEncoder,
  type LogEntry,
  leafHash,
  type NoteSigner,
  readHashTile,
  signCheckpoint,
  TILE_WIDTH,
  tileExists,
  toBase64,
} from "@pkiserver/log";
import type { Host, KeyRecord, KeyRef } from "../domain/entities";
import type { EntryProof, KeyProof, PublishedCheckpoint, TileRef } from "../domain/transparency";
import { historyKey as refKey } from "./key-history";

/** A history as the mirror knows it: its head-map key, its integrated records and its newest one. */
interface History {
  readonly key: Uint8Array;
  /** Its entries' canonical JSON, made once for all of them. */
  readonly encoder: KeyEntryEncoder;
  /** Leaf indexes of its records and their dates, oldest first. */
  readonly indexes: number[];
  readonly dates: number[];
  /** The (log, 0-based) seq of its newest integrated record, -1 before the first. */
  seq: number;
}

/**
 * The integrated part of the log, in memory: entries in log order, the tree's hashes, the head
 * map and each history's covered records. Both adapters serve every read from one: the memory
 * adapter as the log itself, the MongoDB adapter as a replica's copy of the sequenced entries.
 */
export class LogMirror {
  private readonly entries = new EntryBlocks();
  readonly tree = new HashLevels();
  readonly heads = new HeadMap();
  /** Each history by its head-map key in base64. */
  private readonly histories = new Map<string, History>();
  /**
   * The same histories by the store's string for a history: a record or a query finds its
   * history without hashing its canonical key again.
   */
  private readonly byRef = new Map<string, History>();
  /** Leaf index of each host's newest entry. */
  private readonly hosts = new Map<string, number>();

  get size(): number {
    return this.tree.size;
  }

  /** The history of `ref`, made (empty) on first sight. */
  private historyOf(ref: KeyRef): History {
    const id = refKey(ref);
    let h = this.byRef.get(id);
    if (h === undefined) {
      const key = historyKey(ref.userId, ref.instanceId, ref.contextId);
      const hk = toBase64(key);
      h = this.histories.get(hk);
      if (h === undefined) {
        const encoder = new KeyEntryEncoder(ref.userId, ref.instanceId, ref.contextId);
        h = { key, encoder, indexes: [], dates: [], seq: -1 };
        this.histories.set(hk, h);
      }
      this.byRef.set(id, h);
    }
    return h;
  }

  /** The history's head-map key in base64. */
  historyHash(ref: KeyRef): string {
    return toBase64(this.historyOf(ref).key);
  }

  /**
   * Adds an entry; `known`, when the caller has them: the entry decoded and its leaf hash,
   * which spares decoding and hashing it again.
   */
  add(bytes: Uint8Array, known?: { entry: LogEntry; leaf: Uint8Array }): void {
    const leaf = known?.leaf ?? leafHash(bytes);
    const entry = known?.entry ?? decodeEntry(bytes);
    const index = this.tree.size;
    this.entries.writeBytes(bytes);
    this.tree.append(leaf);
    if (entry.type === "key") this.integrated(this.historyOf(entry), index, leaf, entry.seq, entry.createDate);
    else this.hosts.set(entry.instanceId, index);
  }

  /**
   * Adds the entry of a key record that follows its history's newest integrated one (its
   * `prev`): encodes and hashes it once. False, adding nothing, when the record is not the
   * next of its history.
   */
  addKeyRecord(record: KeyRecord): boolean {
    const h = this.historyOf(record);
    const seq = record.seq - 1;
    if (seq !== h.seq + 1) return false;
    const index = this.tree.size;
    const last = h.indexes[h.indexes.length - 1];
    const prev = last === undefined ? undefined : toBase64(this.leaf(last));
    // Encoded into the mirror's blocks and hashed straight into the tree, read back from there.
    this.tree.appendLeafOf(this.entries.write(h.encoder.text(record, seq, prev)));
    this.integrated(h, index, this.leaf(index), seq, record.createDate);
    return true;
  }

  private leaf(index: number): Uint8Array {
    return this.tree.read(0, index) as Uint8Array;
  }

  private integrated(h: History, index: number, leaf: Uint8Array, seq: number, date: number): void {
    h.indexes.push(index);
    h.dates.push(date);
    h.seq = seq;
    this.heads.set(h.key, leaf);
  }

  /** A host's newest integrated entry. */
  hostHead(instanceId: string): HostEntry | undefined {
    const last = this.hosts.get(instanceId);
    return last === undefined ? undefined : (decodeEntry(this.entries.entry(last)) as HostEntry);
  }

  /** Leaf hash and seq of a history's newest integrated record. */
  head(hk: string): { leaf: Uint8Array; seq: number } | undefined {
    const h = this.histories.get(hk);
    const last = h?.indexes.at(-1);
    if (h === undefined || last === undefined) return undefined;
    return { leaf: this.leaf(last), seq: h.seq };
  }

  entryProof(leafIndex: number, treeSize: number): EntryProof {
    return {
      leafIndex,
      entry: this.entries.entry(leafIndex),
      hashes: this.tree.inclusionProof(leafIndex, treeSize),
    };
  }

  async inclusionProof(cp: PublishedCheckpoint, leafIndex: number, treeSize: number): Promise<EntryProof> {
    if (treeSize < 1 || treeSize > cp.size) throw invalidParams(`treeSize -> Expected 1..${cp.size}`);
    if (leafIndex >= treeSize) throw invalidParams("leafIndex -> Expected below treeSize");
    return this.entryProof(leafIndex, treeSize);
  }

  async consistencyProof(cp: PublishedCheckpoint, fromSize: number, toSize: number): Promise<Uint8Array[]> {
    if (toSize < 1 || toSize > cp.size) throw invalidParams(`toSize -> Expected 1..${cp.size}`);
    if (fromSize < 1 || fromSize > toSize) throw invalidParams("fromSize -> Expected 1..toSize");
    return this.tree.consistencyProof(fromSize, toSize);
  }

  /** Against `cp`, which must be this mirror's current size: the head map is the mirror's. */
  async keyProof(cp: PublishedCheckpoint, ref: KeyRef, date: number): Promise<KeyProof> {
    if (cp.size !== this.size) throw new AppError("rpc.internal", { internal: "log mirror is not at the checkpoint" });
    // Every history in the mirror is under its string; one unknown has no record.
    const list = this.byRef.get(refKey(ref));
    // Dates strictly increase within a history: the last record at or before `date` is in force.
    const at = list === undefined ? -1 : lastAtOrBefore(list.dates, date);
    if (list === undefined || at < 0) throw new AppError("pki.no_key_at_time");
    const index = list.indexes[at]!;
    const record = recordOf(decodeEntry(this.entries.entry(index)) as KeyEntry);
    const following = list.indexes[at + 1];
    const entry = this.entryProof(index, cp.size);
    if (following !== undefined) {
      return { checkpoint: cp.note, record, entry, next: this.entryProof(following, cp.size) };
    }
    return { checkpoint: cp.note, record, entry, head: this.heads.prove(list.key) };
  }

  async tile(tile: TileRef, size: number): Promise<Uint8Array | undefined> {
    if (!tileExists(tile, size)) return undefined;
    if (tile.level === "entries") {
      const start = tile.index * TILE_WIDTH;
      const end = Math.min(start + tile.width, this.entries.length);
      const bundle: Uint8Array[] = [];
      for (let i = start; i < end; i++) bundle.push(this.entries.entry(i));
      return encodeEntryBundle(bundle);
    }
    return readHashTile(this.tree.read, tile);
  }
}

/** The position of the last of the increasing `dates` at or before `date`; -1 when none is. */
function lastAtOrBefore(dates: readonly number[], date: number): number {
  let lo = 0;
  let hi = dates.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dates[mid]! <= date) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * What both adapters serve alike: the proofs and tiles of their `LogMirror`, against the
 * checkpoint each publishes, and the signing of that checkpoint.
 */
export abstract class MirroredTransparencyLog {
  protected readonly mirror = new LogMirror();
  protected readonly verifierKey: string;

  constructor(protected readonly signer: NoteSigner) {
    this.verifierKey = encodeVerifierKey(signer);
  }

  /** The checkpoint of the whole mirror, signed. */
  protected async signMirror(): Promise<PublishedCheckpoint> {
    const size = this.mirror.size;
    const c = {
      origin: this.signer.name,
      size,
      root: await this.mirror.tree.root(size),
      headMapRoot: this.mirror.heads.root(),
    };
    return { ...c, note: signCheckpoint(c, this.signer), verifierKey: this.verifierKey };
  }

  abstract checkpoint(): Promise<PublishedCheckpoint>;

  async inclusionProof(leafIndex: number, treeSize: number): Promise<EntryProof> {
    return this.mirror.inclusionProof(await this.checkpoint(), leafIndex, treeSize);
  }

  async consistencyProof(fromSize: number, toSize: number): Promise<Uint8Array[]> {
    return this.mirror.consistencyProof(await this.checkpoint(), fromSize, toSize);
  }

  async keyProof(ref: KeyRef, date: number): Promise<KeyProof> {
    return this.mirror.keyProof(await this.checkpoint(), ref, date);
  }

  async tile(tile: TileRef): Promise<Uint8Array | undefined> {
    return this.mirror.tile(tile, (await this.checkpoint()).size);
  }
}

/** The domain record a logged key entry stands for (the domain counts seq from 1). */
function recordOf(e: KeyEntry): KeyRecord {
  return {
    userId: e.userId,
    instanceId: e.instanceId,
    contextId: e.contextId,
    seq: e.seq + 1,
    createDate: e.createDate,
    ...(e.userPubKey === undefined ? {} : { userPubKey: e.userPubKey }),
    ...(e.customData === undefined ? {} : { customData: e.customData }),
  };
}

/** A record's log entry; `prev` is the leaf hash of the history's previous record. */
export function keyEntry(record: KeyRecord, prev: Uint8Array | undefined): LogEntry {
  return {
    type: "key",
    userId: record.userId,
    instanceId: record.instanceId,
    contextId: record.contextId,
    userPubKey: record.userPubKey,
    createDate: record.createDate,
    customData: record.customData,
    seq: record.seq - 1,
    prev: prev === undefined ? undefined : toBase64(prev),
  };
}

/** A host change's entry; a deleted host has released its addresses. */
export function hostEntry(host: Host, deleted: boolean, at: number): HostEntry {
  return {
    type: "host",
    instanceId: host.instanceId,
    hostPubKey: host.hostPubKey,
    addresses: deleted ? [] : [...host.addresses],
    deleted,
    createDate: at,
  };
}
