import canonicalize from "canonicalize";
import { sha256, utf8 } from "./bytes.js";

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

/** The bytes that are hashed into the log. Throws when they exceed MAX_ENTRY_BYTES. */
export function encodeEntry(entry: LogEntry): Uint8Array {
  if (entry.type === "key") {
    if (!Number.isSafeInteger(entry.seq) || entry.seq < 0) throw new Error("seq must be a non-negative integer");
    if (entry.seq > 0 && entry.prev === undefined) throw new Error("prev is required after the first record");
  }
  const bytes = utf8(canonicalJson(pick(entry)));
  if (bytes.length > MAX_ENTRY_BYTES) throw new Error(`entry is ${bytes.length} bytes, over ${MAX_ENTRY_BYTES}`);
  return bytes;
}

/** Parses entry bytes and checks that they are exactly the canonical form of what they say. */
export function decodeEntry(bytes: Uint8Array): LogEntry {
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  const value = JSON.parse(text) as LogEntry;
  if (value === null || typeof value !== "object" || (value.type !== "key" && value.type !== "host")) {
    throw new Error("not a log entry");
  }
  if (canonicalJson(pick(value)) !== text) throw new Error("entry is not in canonical form");
  return value;
}

/** The head map's key of a history: SHA-256(JCS([userId, instanceId, contextId])). */
export function historyKey(userId: string, instanceId: string, contextId: string): Uint8Array {
  return sha256(utf8(canonicalJson([userId, instanceId, contextId])));
}
