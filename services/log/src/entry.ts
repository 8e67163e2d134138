import canonicalize from "canonicalize";
import { digest, utf8 } from "./bytes.js";

/** An entry is framed with a 2-byte length in entry bundles. */
export const MAX_ENTRY_BYTES = 65535;

/** A key-history record as the log carries it (API.md section 11). */
export interface KeyEntry {
  type: "key";
  userId: string;
  instanceId: string;
  contextId: string;
  /** Absent in a deletion record. */
  userPubKey?: string;
  createDate: number;
  customData?: string;
  /** 0-based position of the record in its history. */
  seq: number;
  /** Base64 leaf hash of the history's previous record; absent when seq is 0. */
  prev?: string;
}

/** A host's state after one change. */
export interface HostEntry {
  type: "host";
  instanceId: string;
  hostPubKey: string;
  addresses: string[];
  deleted: boolean;
  createDate: number;
}

export type LogEntry = KeyEntry | HostEntry;

/**
 * RFC 8785 canonical JSON. The library sorts keys by UTF-16 code units and prints numbers with
 * ECMAScript's Number-to-string, which is what JCS prescribes; it drops undefined members, so an
 * optional field that is not set is absent, never null.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error("value has no JSON form");
  return text;
}

/** Only the fields the contract names, so a stray property of a domain object never changes a hash. */
function pick(entry: LogEntry): Record<string, unknown> {
  if (entry.type === "key") {
    return {
      type: "key",
      userId: entry.userId,
      instanceId: entry.instanceId,
      contextId: entry.contextId,
      userPubKey: entry.userPubKey,
      createDate: entry.createDate,
      customData: entry.customData,
      seq: entry.seq,
      prev: entry.seq === 0 ? undefined : entry.prev,
    };
  }
  return {
    type: "host",
    instanceId: entry.instanceId,
    hostPubKey: entry.hostPubKey,
    addresses: [...entry.addresses],
    deleted: entry.deleted,
    createDate: entry.createDate,
  };
}

/** What changes from one record of a history to the next. */
export interface KeyEntryFields {
  userPubKey?: string;
  createDate: number;
  customData?: string;
}

/**
 * A history's key entries as canonical JSON, written out directly: the members in JCS order
 * (UTF-16 code units: contextId, createDate, customData, instanceId, prev, seq, type, userId,
 * userPubKey), strings and numbers printed by JSON.stringify as JCS prescribes (and as
 * canonicalize does). Every record is encoded once, in the sequencer, where sorting the keys
 * and joining the parts generically cost more than the hashing; the members every record of
 * the history shares are escaped once.
 */
export class KeyEntryEncoder {
  private readonly head: string;
  private readonly instance: string;
  private readonly user: string;

  constructor(
    readonly userId: string,
    readonly instanceId: string,
    readonly contextId: string,
  ) {
    this.head = `{"contextId":${JSON.stringify(contextId)},"createDate":`;
    this.instance = `,"instanceId":${JSON.stringify(instanceId)}`;
    this.user = `,"type":"key","userId":${JSON.stringify(userId)}`;
  }

  /** The text encodeEntry encodes for this history's record at `seq` after the record whose leaf hash is `prev`. */
  text(fields: KeyEntryFields, seq: number, prev: string | undefined): string {
    checkKeyEntry(seq, prev);
    const { userPubKey, customData, createDate } = fields;
    const shared = [this.userId, this.instanceId, this.contextId];
    if (
      typeof createDate !== "number" ||
      !Number.isFinite(createDate) ||
      (userPubKey !== undefined && typeof userPubKey !== "string") ||
      (customData !== undefined && typeof customData !== "string") ||
      (seq !== 0 && typeof prev !== "string") ||
      shared.some((s) => typeof s !== "string")
    ) {
      // Not of their contract types (possible only from outside TypeScript): printed as they are.
      const [userId, instanceId, contextId] = shared as [string, string, string];
      return canonicalJson(pick({ type: "key", userId, instanceId, contextId, ...fields, seq, prev }));
    }
    let out = `${this.head}${createDate}`;
    if (customData !== undefined) out += `,"customData":${JSON.stringify(customData)}`;
    out += this.instance;
    if (seq !== 0) out += `,"prev":${JSON.stringify(prev)}`;
    out += `,"seq":${seq}${this.user}`;
    if (userPubKey !== undefined) out += `,"userPubKey":${JSON.stringify(userPubKey)}`;
    return `${out}}`;
  }
}

function checkKeyEntry(seq: number, prev: string | undefined): void {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error("seq must be a non-negative integer");
  if (seq > 0 && prev === undefined) throw new Error("prev is required after the first record");
}

/** An entry's canonical JSON, checked as far as its text goes. */
export function entryText(entry: LogEntry): string {
  if (entry.type === "key") {
    return new KeyEntryEncoder(entry.userId, entry.instanceId, entry.contextId).text(entry, entry.seq, entry.prev);
  }
  return canonicalJson(pick(entry));
}

const tooBig = (n: number): Error => new Error(`entry is ${n} bytes, over ${MAX_ENTRY_BYTES}`);

/** The bytes that are hashed into the log. Throws when they exceed MAX_ENTRY_BYTES. */
export function encodeEntry(entry: LogEntry): Uint8Array {
  const bytes = utf8(entryText(entry));
  if (bytes.length > MAX_ENTRY_BYTES) throw tooBig(bytes.length);
  return bytes;
}

/** Bytes per block of EntryBlocks. */
const ENTRY_BLOCK = 256 * 1024;

/**
 * A log's entries, side by side in shared blocks, each preceded by 0x00: an entry's leaf hash
 * reads its input (0x00 || entry) in place, and a log of a million entries is a few thousand
 * blocks and three arrays of small integers rather than a million buffers or views for the
 * garbage collector to trace.
 */
export class EntryBlocks {
  private readonly blocks: Buffer[] = [];
  private used = 0;
  /** Per entry: its block, the offset of its 0x00 there, and its length. */
  private readonly blockOf: number[] = [];
  private readonly startOf: number[] = [];
  private readonly lengthOf: number[] = [];

  get length(): number {
    return this.blockOf.length;
  }

  /** Room for `most` bytes at the end of the last block (a new block when there is not). */
  private room(most: number): Buffer {
    let block = this.blocks[this.blocks.length - 1];
    if (block === undefined || this.used + most > block.length) {
      block = Buffer.allocUnsafeSlow(Math.max(ENTRY_BLOCK, most));
      this.blocks.push(block);
      this.used = 0;
    }
    return block;
  }

  private added(block: Buffer, start: number, n: number): Uint8Array {
    block[start] = 0;
    this.used = start + 1 + n;
    this.blockOf.push(this.blocks.length - 1);
    this.startOf.push(start);
    this.lengthOf.push(n);
    return new Uint8Array(block.buffer, block.byteOffset + start, 1 + n);
  }

  /**
   * Appends the entry whose canonical JSON is `text` (from entryText or a KeyEntryEncoder),
   * encoded as encodeEntry does; returns its leaf-hash input, 0x00 then its bytes. Throws when
   * they exceed MAX_ENTRY_BYTES.
   */
  write(text: string): Uint8Array {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const block = this.room(1 + 3 * text.length);
    const start = this.used;
    const n = block.write(text, start + 1, "utf8");
    if (n > MAX_ENTRY_BYTES) throw tooBig(n);
    return this.added(block, start, n);
  }

  /** Appends an entry's bytes as they are; returns its leaf-hash input. */
  writeBytes(bytes: Uint8Array): Uint8Array {
    if (bytes.length > MAX_ENTRY_BYTES) throw tooBig(bytes.length);
    const block = this.room(1 + bytes.length);
    const start = this.used;
    block.set(bytes, start + 1);
    return this.added(block, start, bytes.length);
  }

  /** The bytes of entry `index` (a view: never changed once written). */
  entry(index: number): Uint8Array {
    const block = this.blocks[this.blockOf[index]!];
    if (block === undefined) throw new RangeError(`no entry ${index}`);
    return new Uint8Array(block.buffer, block.byteOffset + this.startOf[index]! + 1, this.lengthOf[index]!);
  }
}

/** Parses entry bytes and checks that they are exactly the canonical form of what they say. */
const decoder = new TextDecoder("utf-8", { fatal: true });

export function decodeEntry(bytes: Uint8Array): LogEntry {
  const text = decoder.decode(bytes);
  const value = JSON.parse(text) as LogEntry;
  if (value === null || typeof value !== "object" || (value.type !== "key" && value.type !== "host")) {
    throw new Error("not a log entry");
  }
  if (canonicalJson(pick(value)) !== text) throw new Error("entry is not in canonical form");
  return value;
}

/** The head map's key of a history: SHA-256(JCS([userId, instanceId, contextId])). */
export function historyKey(userId: string, instanceId: string, contextId: string): Uint8Array {
  // An array of three strings: JCS prints each as JSON.stringify does, in order.
  const text =
    typeof userId === "string" && typeof instanceId === "string" && typeof contextId === "string"
      ? `[${JSON.stringify(userId)},${JSON.stringify(instanceId)},${JSON.stringify(contextId)}]`
      : canonicalJson([userId, instanceId, contextId]);
  return digest(utf8(text));
}
