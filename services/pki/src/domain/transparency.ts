import type { HeadMapProof } from "@pkiserver/log";
import type { Host, KeyRecord, KeyRef } from "./entities";

/** The newest signed checkpoint and what it says, decoded. */
export interface PublishedCheckpoint {
  /** The signed note's text. */
  readonly note: string;
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly headMapRoot: Uint8Array;
  readonly verifierKey: string;
}

/** One log entry with its inclusion proof in some tree. */
export interface EntryProof {
  readonly leafIndex: number;
  readonly entry: Uint8Array;
  readonly hashes: Uint8Array[];
}

/** pki/getKeyProof's answer, all against the tree of `checkpoint`. */
export interface KeyProof {
  readonly checkpoint: string;
  readonly record: KeyRecord;
  readonly entry: EntryProof;
  readonly next?: EntryProof;
  readonly head?: HeadMapProof;
}

/** A C2SP tile as the HTTP layout names it. */
export interface TileRef {
  readonly level: number | "entries";
  readonly index: number;
  readonly width: number;
}

/**
 * The transparency log of the directory (API.md section 11). Every change has its entry in the
 * same durable step as the change, in the order the changes commit; the sequencer integrates
 * entries into the tree and signs checkpoints; readers get proofs against the newest checkpoint.
 */
export interface TransparencyLog {
  /**
   * A key-history record, right after it was written, before the next write can come in;
   * records of one history arrive in seq order. Only hands the record over: the sequencer
   * encodes and integrates it. Absent when the key store writes each record with its log
   * intent itself.
   */
  appendKeyRecord?(record: KeyRecord): void;
  /**
   * Runs a host change and logs the host's state after it (`deleted` for deleteHost), dated
   * `at()`. The change and its entry survive a crash together: a change that happened is logged.
   */
  logHostChange(deleted: boolean, instanceId: string, change: () => Promise<Host>, at: () => number): Promise<Host>;
  /**
   * Integrates appended entries and signs a checkpoint when there are any (or none was signed
   * yet); returns the checkpoint it signed, if it signed one.
   */
  sequence(): Promise<PublishedCheckpoint | undefined>;
  checkpoint(): Promise<PublishedCheckpoint>;
  /** `rpc.invalid_params` unless index < size <= the checkpoint's size. */
  inclusionProof(leafIndex: number, treeSize: number): Promise<EntryProof>;
  /** `rpc.invalid_params` unless 1 <= from <= to <= the checkpoint's size. */
  consistencyProof(fromSize: number, toSize: number): Promise<Uint8Array[]>;
  /** `pki.no_key_at_time` when no covered record of the history is at or before `date`. */
  keyProof(ref: KeyRef, date: number): Promise<KeyProof>;
  /** The tile's bytes, or undefined when the tree of the newest checkpoint has no such tile. */
  tile(tile: TileRef): Promise<Uint8Array | undefined>;
  /** Stops sequencing here; another replica takes over at once rather than when the lease runs out. */
  close(): Promise<void>;
}
