import { encodeEntry, historyKey, type LogEntry, leafHash, toBase64 } from "@pkiserver/log";
import type { Host, KeyRecord } from "../domain/entities";
import type { PublishedCheckpoint, TransparencyLog } from "../domain/transparency";
import { hostEntry, keyEntry, MirroredTransparencyLog } from "./log-mirror";

/** An appended entry with what was known when it was made (spares decoding it at sequencing). */
interface Pending {
  readonly bytes: Uint8Array;
  readonly known: { entry: LogEntry; leaf: Uint8Array; key?: Uint8Array };
}

/**
 * The log of the embedded form, in process memory. Appends happen right after the store's
 * write with no await in between, so the log's order is the order the writes committed in;
 * `sequence` integrates what was appended and signs.
 */
export class MemoryTransparencyLog extends MirroredTransparencyLog implements TransparencyLog {
  private readonly pending: Pending[] = [];
  /** Leaf hash of each history's newest appended record, for the next record's `prev`. */
  private readonly pendingHeads = new Map<string, Uint8Array>();
  private latest: PublishedCheckpoint | undefined;

  async appendKeyRecord(record: KeyRecord): Promise<void> {
    const key = historyKey(record.userId, record.instanceId, record.contextId);
    const hk = toBase64(key);
    const entry = keyEntry(record, this.pendingHeads.get(hk));
    const bytes = encodeEntry(entry);
    const leaf = leafHash(bytes);
    this.pendingHeads.set(hk, leaf);
    this.pending.push({ bytes, known: { entry, leaf, key } });
  }

  async logHostChange(deleted: boolean, _id: string, change: () => Promise<Host>, at: () => number): Promise<Host> {
    const host = await change();
    const entry = hostEntry(host, deleted, at());
    const bytes = encodeEntry(entry);
    this.pending.push({ bytes, known: { entry, leaf: leafHash(bytes) } });
    return host;
  }

  async sequence(): Promise<PublishedCheckpoint | undefined> {
    if (this.latest !== undefined && this.pending.length === 0) return undefined;
    for (const p of this.pending.splice(0)) this.mirror.add(p.bytes, p.known);
    this.latest = await this.signMirror();
    return this.latest;
  }

  async checkpoint(): Promise<PublishedCheckpoint> {
    if (this.latest === undefined) await this.sequence();
    return this.latest!;
  }

  async close(): Promise<void> {}
}
