import { equalBytes, fromBase64, toBase64 } from "./bytes.js";
import { type Checkpoint, openCheckpoint } from "./checkpoint.js";
import { canonicalJson, decodeEntry, historyKey, type KeyEntry } from "./entry.js";
import { leafHash } from "./hash.js";
import { type HeadMapProof, verifyHeadMapProof } from "./headmap.js";
import { verifyInclusion } from "./merkle.js";
import { parseVerifierKey } from "./note.js";

/** An entry and its inclusion proof as the API carries them (base64). */
export interface EntryProofJson {
  leafIndex: number;
  entry: string;
  hashes: string[];
}

/** pki/getKeyProof's result (API.md section 11). */
export interface KeyProofAnswer {
  checkpoint: string;
  record: {
    userId: string;
    instanceId: string;
    contextId: string;
    userPubKey?: string;
    createDate: number;
    customData?: unknown;
  };
  entry: EntryProofJson;
  next?: EntryProofJson;
  head?: HeadMapProof;
}

export interface KeyQuery {
  userId: string;
  instanceId: string;
  contextId: string;
  date: number;
}

export interface VerifiedKey {
  checkpoint: Checkpoint;
  /** The record in force at the date, as the log holds it. */
  entry: KeyEntry;
}

export class VerificationError extends Error {
  override name = "VerificationError";
}

function fail(message: string): never {
  throw new VerificationError(message);
}

function keyEntryOf(proof: EntryProofJson, c: Checkpoint, what: string): { entry: KeyEntry; leaf: Uint8Array } {
  let bytes: Uint8Array;
  let hashes: Uint8Array[];
  try {
    bytes = fromBase64(proof.entry);
    hashes = proof.hashes.map(fromBase64);
  } catch {
    fail(`${what}: malformed base64`);
  }
  const leaf = leafHash(bytes);
  if (!verifyInclusion(leaf, proof.leafIndex, c.size, hashes, c.root)) fail(`${what}: not in the checkpoint's tree`);
  let entry: ReturnType<typeof decodeEntry>;
  try {
    entry = decodeEntry(bytes);
  } catch {
    fail(`${what}: not a canonical log entry`);
  }
  if (entry.type !== "key") fail(`${what}: not a key record`);
  return { entry, leaf };
}

/**
 * Checks a pki/getKeyProof answer offline against a pinned verifier key: the checkpoint's
 * signature; that the record in force at `date` is in the tree; that it is the record the
 * answer shows; and that it was still in force at `date` — either the history's next record
 * (chained to it by `prev`) came after `date`, or the head map shows it is the newest.
 * Returns what was proven; throws VerificationError otherwise.
 */
export function verifyKeyProof(answer: KeyProofAnswer, verifierKey: string, query: KeyQuery): VerifiedKey {
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(answer.checkpoint, parseVerifierKey(verifierKey));
  } catch (err) {
    fail(`checkpoint: ${(err as Error).message}`);
  }
  const { entry, leaf } = keyEntryOf(answer.entry, checkpoint, "entry");
  if (entry.userId !== query.userId || entry.instanceId !== query.instanceId || entry.contextId !== query.contextId) {
    fail("entry: another history's record");
  }
  if (entry.createDate > query.date) fail("entry: created after the date");
  const r = answer.record;
  const sameData =
    r.customData === undefined
      ? entry.customData === undefined
      : entry.customData !== undefined && canonicalJson(JSON.parse(entry.customData)) === canonicalJson(r.customData);
  if (
    r.userId !== entry.userId ||
    r.instanceId !== entry.instanceId ||
    r.contextId !== entry.contextId ||
    r.userPubKey !== entry.userPubKey ||
    r.createDate !== entry.createDate ||
    !sameData
  ) {
    fail("record: differs from the logged entry");
  }
  if (answer.next !== undefined) {
    const next = keyEntryOf(answer.next, checkpoint, "next").entry;
    if (
      next.userId !== entry.userId ||
      next.instanceId !== entry.instanceId ||
      next.contextId !== entry.contextId ||
      next.seq !== entry.seq + 1 ||
      next.prev !== toBase64(leaf)
    ) {
      fail("next: not the record that follows the entry");
    }
    if (next.createDate <= query.date) fail("next: already in force at the date");
  } else {
    if (answer.head === undefined) fail("neither next nor head: nothing shows the record was still in force");
    const key = historyKey(entry.userId, entry.instanceId, entry.contextId);
    if (!verifyHeadMapProof(key, leaf, answer.head, checkpoint.headMapRoot))
      fail("head: not the history's newest record");
  }
  return { checkpoint, entry };
}

/** Whether the proven record says `userPubKey` was the user's key at the date. */
export function provesKey(v: VerifiedKey, userPubKey: string): boolean {
  return (
    v.entry.userPubKey !== undefined &&
    equalBytes(new TextEncoder().encode(v.entry.userPubKey), new TextEncoder().encode(userPubKey))
  );
}
