import { encodeEntry, type HostEntry, leafHash } from "@pkiserver/log";
import type { Host, KeyRecord } from "../domain/entities";
import type { PublishedCheckpoint, TransparencyLog } from "../domain/transparency";
import { hostEntry, MirroredTransparencyLog } from "./log-mirror";

/**
 * The log of the embedded form, in process memory. A write hands its record (or its host's new
 * state) over right after the store's write with no await in between, so the log's order is
 * the order the writes committed in; that is all a write does. `sequence` encodes, hashes and
 * integrates what was handed over, once per round rather than once per request, and signs.
 */
export class MemoryTransparencyLog extends MirroredTransparencyLog implements TransparencyLog {
  private pending: (KeyRecord | HostEntry)[] = [];
  private latest: PublishedCheckpoint | undefined;

  appendKeyRecord(record: KeyRecord): void {
    this.pending.push(record);
  }

  async logHostChange(deleted: boolean, _id: string, change: () => Promise<Host>, at: () => number): Promise<Host> {
    const host = await change();
    this.pending.push(hostEntry(host, deleted, at()));
    return host;
  }

  async sequence(): Promise<PublishedCheckpoint | undefined> {
    if (this.latest !== undefined && this.pending.length === 0) return undefined;
    const round = this.pending;
    this.pending = [];
    // A record whose predecessor is not integrated yet waits for it (records of a history are
    // handed over in seq order, so this is only a safeguard of the chain).
    let waiting: KeyRecord[] = [];
    for (const p of round) {
      if (isHostEntry(p)) {
        const bytes = encodeEntry(p);
        this.mirror.add(bytes, { entry: p, leaf: leafHash(bytes) });
      } else if (!this.mirror.addKeyRecord(p)) waiting.push(p);
    }
    for (let before = -1; waiting.length > 0 && waiting.length !== before; ) {
      before = waiting.length;
      waiting = waiting.filter((r) => !this.mirror.addKeyRecord(r));
    }
    if (waiting.length > 0) this.pending.unshift(...waiting);
    this.latest = await this.signMirror();
    return this.latest;
  }

  async checkpoint(): Promise<PublishedCheckpoint> {
    if (this.latest === undefined) await this.sequence();
    return this.latest!;
  }

  async close(): Promise<void> {}
}

function isHostEntry(p: KeyRecord | HostEntry): p is HostEntry {
  return (p as HostEntry).type === "host";
}
