import { AppError, invalidParams } from "@pkiserver/kit/core";
import {
  consistencyProof,
  decodeEntry,
  encodeEntryBundle,
  encodeVerifierKey,
  HashLevels,
  HeadMap,
  type HostEntry,
  historyKey,
  inclusionProof,
  type KeyEntry,
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

/**
 * The integrated part of the log, in memory: entries in log order, the tree's hashes, the head
 * map and each history's covered records. Both adapters serve every read from one: the memory
 * adapter as the log itself, the MongoDB adapter as a replica's copy of the sequenced entries.
 */
export class LogMirror {
  readonly entries: Uint8Array[] = [];
  readonly tree = new HashLevels();
  readonly heads = new HeadMap();
  /** Leaf indexes of each history's records and their dates, oldest first. */
  private readonly histories = new Map<string, { readonly indexes: number[]; readonly dates: number[] }>();
  /** Leaf index of each host's newest entry. */
  private readonly hosts = new Map<string, number>();

  get size(): number {
    return this.tree.size;
  }

  /**
   * Adds an entry; `known`, when the caller has them: the entry decoded, its leaf hash and (for a
   * key record) its history key, which spares decoding and hashing it again.
   */
  add(bytes: Uint8Array, known?: { entry: LogEntry; leaf: Uint8Array; key?: Uint8Array }): void {
    const leaf = known?.leaf ?? leafHash(bytes);
    const entry = known?.entry ?? decodeEntry(bytes);
    const index = this.tree.size;
    this.entries.push(bytes);
    this.tree.append(leaf);
    if (entry.type === "key") {
      const key = known?.key ?? historyKey(entry.userId, entry.instanceId, entry.contextId);
      this.heads.set(key, leaf);
      const hk = toBase64(key);
      let list = this.histories.get(hk);
      if (list === undefined) {
        list = { indexes: [], dates: [] };
        this.histories.set(hk, list);
      }
      list.indexes.push(index);
      list.dates.push(entry.createDate);
    } else {
      this.hosts.set(entry.instanceId, index);
    }
  }

  /** A host's newest integrated entry. */
  hostHead(instanceId: string): HostEntry | undefined {
    const last = this.hosts.get(instanceId);
    return last === undefined ? undefined : (decodeEntry(this.entries[last]!) as HostEntry);
  }

  /** Leaf hash and seq of a history's newest integrated record. */
  head(hk: string): { leaf: Uint8Array; seq: number } | undefined {
    const last = this.histories.get(hk)?.indexes.at(-1);
    if (last === undefined) return undefined;
    const entry = decodeEntry(this.entries[last]!) as KeyEntry;
    return { leaf: leafHash(this.entries[last]!), seq: entry.seq };
  }

  async entryProof(leafIndex: number, treeSize: number): Promise<EntryProof> {
    return {
      leafIndex,
      entry: this.entries[leafIndex]!,
      hashes: await inclusionProof(this.tree.read, leafIndex, treeSize),
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
    return consistencyProof(this.tree.read, fromSize, toSize);
  }

  /** Against `cp`, which must be this mirror's current size: the head map is the mirror's. */
  async keyProof(cp: PublishedCheckpoint, ref: KeyRef, date: number): Promise<KeyProof> {
    if (cp.size !== this.size) throw new AppError("rpc.internal", { internal: "log mirror is not at the checkpoint" });
    const key = historyKey(ref.userId, ref.instanceId, ref.contextId);
    const list = this.histories.get(toBase64(key));
    // Dates strictly increase within a history: the last record at or before `date` is in force.
    const at = list === undefined ? -1 : lastAtOrBefore(list.dates, date);
    if (list === undefined || at < 0) throw new AppError("pki.no_key_at_time");
    const index = list.indexes[at]!;
    const record = recordOf(decodeEntry(this.entries[index]!) as KeyEntry);
    const following = list.indexes[at + 1];
    // Before any await: the mirror may grow past the checkpoint meanwhile; the tree's hashes never change.
    const head = following === undefined ? this.heads.prove(key) : undefined;
    const entry = await this.entryProof(index, cp.size);
    if (following !== undefined) {
      return { checkpoint: cp.note, record, entry, next: await this.entryProof(following, cp.size) };
    }
    return { checkpoint: cp.note, record, entry, head: head! };
  }

  async tile(tile: TileRef, size: number): Promise<Uint8Array | undefined> {
    if (!tileExists(tile, size)) return undefined;
    if (tile.level === "entries") {
      const start = tile.index * TILE_WIDTH;
      return encodeEntryBundle(this.entries.slice(start, start + tile.width));
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
export function hostEntry(host: Host, deleted: boolean, at: number): LogEntry {
  return {
    type: "host",
    instanceId: host.instanceId,
    hostPubKey: host.hostPubKey,
    addresses: deleted ? [] : [...host.addresses],
    deleted,
    createDate: at,
  };
}
