import { encodeEntry, historyKey, leafHash, toBase64 } from "@pkiserver/log";
import type { Host, KeyRecord } from "../domain/entities";
import type { PublishedCheckpoint } from "../domain/transparency";
import { hostEntry, keyEntry, MirroredTransparencyLog } from "./log-mirror";

/**
 * The log of the embedded form, in process memory. Appends happen right after the store's
 * write with no await in between, so the log's order is the order the writes committed in;
 * `sequence` integrates what was appended and signs.
 */
export class MemoryTransparencyLog extends MirroredTransparencyLog {
  private readonly pending: Uint8Array[] = [];
  /** Leaf hash of each history's newest appended record, for the next record's `prev`. */
  private readonly pendingHeads = new Map<string, Uint8Array>();
  private latest: PublishedCheckpoint | undefined;

  async appendKeyRecord(record: KeyRecord): Promise<void> {
    const hk = toBase64(historyKey(record.userId, record.instanceId, record.contextId));
    const bytes = encodeEntry(keyEntry(record, this.pendingHeads.get(hk)));
    this.pendingHeads.set(hk, leafHash(bytes));
    this.pending.push(bytes);
  }

  async appendHostChange(host: Host, deleted: boolean, at: number): Promise<void> {
    this.pending.push(encodeEntry(hostEntry(host, deleted, at)));
  }

  async sequence(): Promise<void> {
    if (this.latest !== undefined && this.pending.length === 0) return;
    for (const bytes of this.pending.splice(0)) this.mirror.add(bytes);
    const { checkpoint, note } = await this.signHead();
    this.latest = { ...checkpoint, note, verifierKey: this.verifierKey };
  }

  async checkpoint(): Promise<PublishedCheckpoint> {
    if (this.latest === undefined) await this.sequence();
    return this.latest!;
  }

  async close(): Promise<void> {}
}
