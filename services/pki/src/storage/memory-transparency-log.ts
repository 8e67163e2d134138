import { AppError, invalidParams } from "@pkiserver/kit/core";
import {
  consistencyProof,
  encodeEntry,
  encodeEntryBundle,
  encodeVerifierKey,
  HashLevels,
  HeadMap,
  historyKey,
  inclusionProof,
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

interface Covered {
  readonly leafIndex: number;
  readonly record: KeyRecord;
}

/**
 * The log of the embedded form, in process memory. Appends are synchronous after the store's
 * write, so the log's order is the order the writes committed in; `sequence` integrates what
 * was appended and signs.
 */
export class MemoryTransparencyLog implements TransparencyLog {
  private readonly entries: Uint8Array[] = [];
  private readonly records: (KeyRecord | undefined)[] = [];
  /** Leaf hash of each history's newest appended record, for the next record's `prev`. */
  private readonly pendingHeads = new Map<string, Uint8Array>();
  private readonly tree = new HashLevels();
  private readonly heads = new HeadMap();
  /** Integrated key records per history, oldest first. */
  private readonly histories = new Map<string, Covered[]>();
  private latest: PublishedCheckpoint | undefined;
  private readonly verifierKey: string;

  constructor(private readonly signer: NoteSigner) {
    this.verifierKey = encodeVerifierKey(signer);
  }

  async appendKeyRecord(record: KeyRecord): Promise<void> {
    const hk = toBase64(historyKey(record.userId, record.instanceId, record.contextId));
    const prev = this.pendingHeads.get(hk);
    const entry = keyEntry(record, prev);
    const bytes = encodeEntry(entry);
    this.pendingHeads.set(hk, leafHash(bytes));
    this.entries.push(bytes);
    this.records.push(record);
  }

  async appendHostChange(host: Host, deleted: boolean, at: number): Promise<void> {
    this.entries.push(encodeEntry(hostEntry(host, deleted, at)));
    this.records.push(undefined);
  }

  async sequence(): Promise<void> {
    if (this.latest !== undefined && this.tree.size === this.entries.length) return;
    for (let i = this.tree.size; i < this.entries.length; i++) {
      const leaf = leafHash(this.entries[i]!);
      this.tree.append(leaf);
      const record = this.records[i];
      if (record !== undefined) {
        const key = historyKey(record.userId, record.instanceId, record.contextId);
        this.heads.set(key, leaf);
        const hk = toBase64(key);
        const list = this.histories.get(hk) ?? [];
        list.push({ leafIndex: i, record });
        this.histories.set(hk, list);
      }
    }
    const size = this.tree.size;
    const c = { origin: this.signer.name, size, root: await this.tree.root(size), headMapRoot: this.heads.root() };
    this.latest = { ...c, note: signCheckpoint(c, this.signer), verifierKey: this.verifierKey };
  }

  async checkpoint(): Promise<PublishedCheckpoint> {
    if (this.latest === undefined) await this.sequence();
    return this.latest!;
  }

  async inclusionProof(leafIndex: number, treeSize: number): Promise<EntryProof> {
    const { size } = await this.checkpoint();
    if (treeSize < 1 || treeSize > size) throw invalidParams(`treeSize -> Expected 1..${size}`);
    if (leafIndex >= treeSize) throw invalidParams("leafIndex -> Expected below treeSize");
    return this.entryProof(leafIndex, treeSize);
  }

  async consistencyProof(fromSize: number, toSize: number): Promise<Uint8Array[]> {
    const { size } = await this.checkpoint();
    if (toSize < 1 || toSize > size) throw invalidParams(`toSize -> Expected 1..${size}`);
    if (fromSize < 1 || fromSize > toSize) throw invalidParams("fromSize -> Expected 1..toSize");
    return consistencyProof(this.tree.read, fromSize, toSize);
  }

  async keyProof(ref: KeyRef, date: number): Promise<KeyProof> {
    const cp = await this.checkpoint();
    const list = this.histories.get(toBase64(historyKey(ref.userId, ref.instanceId, ref.contextId))) ?? [];
    const covered = list.filter((c) => c.leafIndex < cp.size);
    // Records of a history have strictly increasing dates: the last at or before `date` is in force.
    let at = -1;
    while (at + 1 < covered.length && covered[at + 1]!.record.createDate <= date) at++;
    if (at < 0) throw new AppError("pki.no_key_at_time");
    const current = covered[at]!;
    const following = covered[at + 1];
    const entry = await this.entryProof(current.leafIndex, cp.size);
    if (following !== undefined) {
      return {
        checkpoint: cp.note,
        record: current.record,
        entry,
        next: await this.entryProof(following.leafIndex, cp.size),
      };
    }
    const head = this.heads.prove(historyKey(ref.userId, ref.instanceId, ref.contextId));
    return { checkpoint: cp.note, record: current.record, entry, head };
  }

  async tile(tile: TileRef): Promise<Uint8Array | undefined> {
    const { size } = await this.checkpoint();
    if (!tileExists(tile, size)) return undefined;
    if (tile.level === "entries") {
      const start = tile.index * TILE_WIDTH;
      return encodeEntryBundle(this.entries.slice(start, start + tile.width));
    }
    return readHashTile(this.tree.read, tile);
  }

  private async entryProof(leafIndex: number, treeSize: number): Promise<EntryProof> {
    return {
      leafIndex,
      entry: this.entries[leafIndex]!,
      hashes: await inclusionProof(this.tree.read, leafIndex, treeSize),
    };
  }
}

/** A record's log entry: the domain counts seq from 1, the log from 0. */
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
