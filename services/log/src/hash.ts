import { digest, sha256 } from "./bytes.js";

/** Size of every hash in the log, the head map and the proofs. */
export const HASH_SIZE = 32;

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

/**
 * Inputs are framed in these buffers, reused by every call (hashing is synchronous): a tree
 * hashes once per leaf and about once more per node, and a fresh joined copy each time was
 * most of the cost of the hashing itself.
 */
const NODE_INPUT = new Uint8Array(1 + 2 * HASH_SIZE);
NODE_INPUT[0] = 1;
/** 0x00 then the entry; entries are at most 65,535 bytes, larger inputs are joined afresh. */
const LEAF_INPUT = new Uint8Array(1 + 65535);

/** RFC 9162 section 2.1.1: the hash of one log entry. */
export function leafHash(entry: Uint8Array): Uint8Array {
  if (entry.length >= LEAF_INPUT.length) return sha256(LEAF, entry);
  LEAF_INPUT.set(entry, 1);
  return digest(LEAF_INPUT.subarray(0, 1 + entry.length));
}

/** RFC 9162 section 2.1.1: the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) return sha256(NODE, left, right);
  NODE_INPUT.set(left, 1);
  NODE_INPUT.set(right, 1 + HASH_SIZE);
  return digest(NODE_INPUT);
}

/** The root of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Uint8Array = sha256();
