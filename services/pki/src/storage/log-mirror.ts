import { AppError, invalidParams } from "@pkiserver/kit/core";
import {
  type Checkpoint,
  consistencyProof,
  decodeEntry,
  encodeEntryBundle,
  encodeVerifierKey,
  HashLevels,
  HeadMap,
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
import type { EntryProof, KeyProof, PublishedCheckpoint, TileRef, TransparencyLog } from "../domain/transparency";

/**
 * The integrated part of the log, in memory: entries in log order, the tree's hashes, the head
 * map and each history's covered records. Both adapters serve every read from one: the memory
 * adapter as the log itself, the MongoDB adapter as a replica's copy of the sequenced entries.
 */
export class LogMirror {
  readonly entries: Uint8Array[] = [];
  readonly tree = new HashLevels();
  readonly heads = new HeadMap();
  /** Leaf indexes of each history's records, oldest first. */
  private readonly histories = new Map<string, number[]>();

  get size(): number {
    return this.tree.size;
  }

  add(bytes: Uint8Array): void {
    const leaf = leafHash(bytes);
    const entry = decodeEntry(bytes);
    const index = this.tree.size;
    this.entries.push(bytes);
    this.tree.append(leaf);
    if (entry.type === "key") {
      const key = historyKey(entry.userId, entry.instanceId, entry.contextId);
      this.heads.set(key, leaf);
      const hk = toBase64(key);
      const list = this.histories.get(hk) ?? [];
      list.push(index);
      this.histories.set(hk, list);
    }
  }

  /** Leaf hash and seq of a history's newest integrated record. */
  head(hk: string): { leaf: Uint8Array; seq: number } | undefined {
    const last = this.histories.get(hk)?.at(-1);
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
    const list = this.histories.get(toBase64(key)) ?? [];
    const records = list.map((i) => ({ index: i, record: recordOf(decodeEntry(this.entries[i]!) as KeyEntry) }));
    // Dates strictly increase within a history: the last record at or before `date` is in force.
    let at = -1;
    while (at + 1 < records.length && records[at + 1]!.record.createDate <= date) at++;
    if (at < 0) throw new AppError("pki.no_key_at_time");
    const current = records[at]!;
    const following = records[at + 1];
    // Before any await: the mirror may grow past the checkpoint meanwhile; the tree's hashes never change.
    const head = following === undefined ? this.heads.prove(key) : undefined;
    const entry = await this.entryProof(current.index, cp.size);
    if (following !== undefined) {
      return {
        checkpoint: cp.note,
        record: current.record,
        entry,
        next: await this.entryProof(following.index, cp.size),
      };
    }
    return { checkpoint: cp.note, record: current.record, entry, head: head! };
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

/**
 * What both adapters serve alike: every proof and tile from their `LogMirror`, against the
 * checkpoint they publish.
 */
export abstract class MirroredTransparencyLog implements TransparencyLog {
  protected readonly mirror = new LogMirror();
  protected readonly verifierKey: string;

  constructor(protected readonly signer: NoteSigner) {
    this.verifierKey = encodeVerifierKey(signer);
  }

  /** The mirror's whole tree as a checkpoint, and the note that signs it. */
  protected async signHead(): Promise<{ checkpoint: Checkpoint; note: string }> {
    const size = this.mirror.size;
    const checkpoint = {
      origin: this.signer.name,
      size,
      root: await this.mirror.tree.root(size),
      headMapRoot: this.mirror.heads.root(),
    };
    return { checkpoint, note: signCheckpoint(checkpoint, this.signer) };
  }

  abstract appendKeyRecord(record: KeyRecord): Promise<void>;
  abstract appendHostChange(host: Host, deleted: boolean, at: number): Promise<void>;
  abstract sequence(): Promise<void>;
  abstract checkpoint(): Promise<PublishedCheckpoint>;
  abstract close(): Promise<void>;

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
