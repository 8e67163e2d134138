import { digestInto, equalBytes } from "./bytes.js";
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from "./hash.js";

/**
 * Reads the hash of a complete subtree: `2^level` leaves starting at leaf `index * 2^level`.
 * Level 0 is the leaf hashes. Proof generation needs nothing else, so any store of such hashes
 * (memory, tiles in a database, tiles fetched over HTTP) can serve proofs.
 */
export type HashReader = (level: number, index: number) => Uint8Array | Promise<Uint8Array>;

// Tree sizes go past 2^32, where JavaScript's bitwise operators stop working: plain arithmetic.
const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;

/** The largest power of two strictly smaller than n (n > 1). */
/** Below this, sizes fit the 32-bit operations that find a highest bit in one step. */
const U32 = 2 ** 32;

function split(n: number): number {
  // The highest bit of n - 1; proofs take this at every level, so no loop over the levels here.
  if (n <= U32) {
    const bit = 31 - Math.clz32(n - 1);
    return bit < 31 ? 1 << bit : 2 ** 31;
  }
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < U32) return n > 0 && (n & (n - 1)) === 0;
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

function checkSize(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer`);
}

type MaybeAsync<T> = T | Promise<T>;

const isAsync = <T>(v: MaybeAsync<T>): v is Promise<T> => typeof (v as { then?: unknown }).then === "function";

/** The exponent of n when n is a power of two with `lo` a multiple of it (a complete subtree), else -1. */
function completeLevel(lo: number, n: number): number {
  if (!isPowerOfTwo(n) || lo % n !== 0) return -1;
  if (n < U32) return 31 - Math.clz32(n);
  let level = 0;
  for (let k = n; k > 1; k /= 2) level++;
  return level;
}

/**
 * MTH(D[lo:hi]) from complete-subtree hashes, synchronously while `read` answers so: a reader
 * over memory (HashLevels) costs no promise per hash, one over tiles fetched over a network
 * reads both halves at once. `memo`, when given, keeps the hashes of incomplete subtrees [lo, hi)
 * of one `hi` by `lo` (they depend only on complete subtrees, which never change).
 */
function subtree(
  read: HashReader,
  lo: number,
  hi: number,
  memo: Map<number, Uint8Array> | undefined,
): MaybeAsync<Uint8Array> {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  const level = completeLevel(lo, n);
  if (level >= 0) return read(level, lo / n);
  const known = memo?.get(lo);
  if (known !== undefined) return known;
  const k = split(n);
  const left = subtree(read, lo, lo + k, memo);
  const right = subtree(read, lo + k, hi, memo);
  if (isAsync(left) || isAsync(right)) {
    return Promise.all([left, right]).then(([l, r]) => {
      const h = nodeHash(l, r);
      memo?.set(lo, h);
      return h;
    });
  }
  const h = nodeHash(left, right);
  memo?.set(lo, h);
  return h;
}

/** The hashes in order, awaited only when some are promises. */
function settle(hashes: MaybeAsync<Uint8Array>[]): MaybeAsync<Uint8Array[]> {
  return hashes.some(isAsync) ? Promise.all(hashes) : (hashes as Uint8Array[]);
}

/** MTH(D[lo:hi]) from complete-subtree hashes (RFC 9162 section 2.1.1). */
export async function subtreeHash(read: HashReader, lo: number, hi: number): Promise<Uint8Array> {
  return subtree(read, lo, hi, undefined);
}

/** The root hash of the tree of the first `size` entries. */
export function treeHash(read: HashReader, size: number): Promise<Uint8Array> {
  checkSize(size, "size");
  return subtreeHash(read, 0, size);
}

/** RFC 9162 section 2.1.3.1: the audit path of leaf `index` in the tree of `size` leaves. */
function auditPath(
  read: HashReader,
  index: number,
  size: number,
  memo: Map<number, Uint8Array> | undefined,
): MaybeAsync<Uint8Array[]> {
  checkSize(size, "size");
  checkSize(index, "index");
  if (index >= size) throw new RangeError("index must be below size");
  // PATH(m, D[lo:hi]) = PATH(m, left) : MTH(right) or PATH(m-k, right) : MTH(left); the deepest
  // sibling comes first, so collect the siblings top-down and reverse.
  let lo = 0;
  let hi = size;
  const top: MaybeAsync<Uint8Array>[] = [];
  while (hi - lo > 1) {
    const k = split(hi - lo);
    if (index < lo + k) {
      top.push(subtree(read, lo + k, hi, memo));
      hi = lo + k;
    } else {
      top.push(subtree(read, lo, lo + k, memo));
      lo = lo + k;
    }
  }
  return settle(top.reverse());
}

/** RFC 9162 section 2.1.3.1: the audit path of leaf `index` in the tree of `size` leaves. */
export async function inclusionProof(read: HashReader, index: number, size: number): Promise<Uint8Array[]> {
  return auditPath(read, index, size, undefined);
}

/** RFC 9162 section 2.1.4.1: the consistency proof from the tree of `from` leaves to that of `to`. */
function consistencyPath(
  read: HashReader,
  from: number,
  to: number,
  memo: Map<number, Uint8Array> | undefined,
): MaybeAsync<Uint8Array[]> {
  checkSize(from, "from");
  checkSize(to, "to");
  if (from < 1 || from > to) throw new RangeError("from must be in 1..to");
  if (from === to) return [];
  // SUBPROOF(m, D[lo:hi], b), unrolled: every step adds one sibling, deepest last, so reverse.
  const top: MaybeAsync<Uint8Array>[] = [];
  let m = from;
  let lo = 0;
  let hi = to;
  let complete = true;
  while (m !== hi - lo) {
    const k = split(hi - lo);
    if (m <= k) {
      top.push(subtree(read, lo + k, hi, memo));
      hi = lo + k;
    } else {
      top.push(subtree(read, lo, lo + k, memo));
      m -= k;
      lo = lo + k;
      complete = false;
    }
  }
  if (!complete) top.push(subtree(read, lo, hi, memo));
  return settle(top.reverse());
}

/** RFC 9162 section 2.1.4.1: the consistency proof from the tree of `from` leaves to that of `to`. */
export async function consistencyProof(read: HashReader, from: number, to: number): Promise<Uint8Array[]> {
  return consistencyPath(read, from, to, undefined);
}

function isHash(h: Uint8Array): boolean {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

/**
 * RFC 9162 section 2.1.3.2: does `proof` show that `leaf` is leaf `index` of the tree of `size`
 * leaves whose root is `root`?
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equalBytes(r, root);
}

/**
 * RFC 9162 section 2.1.4.2: does `proof` show that the tree of `from` leaves with root `fromRoot`
 * is a prefix of the tree of `to` leaves with root `toRoot`?
 */
export function verifyConsistency(
  from: number,
  to: number,
  proof: readonly Uint8Array[],
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || from > to) return false;
  if (!isHash(fromRoot) || !isHash(toRoot) || !proof.every(isHash)) return false;
  if (from === to) return proof.length === 0 && equalBytes(fromRoot, toRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : [...proof];
  let fn = from - 1;
  let sn = to - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equalBytes(fr, fromRoot) && equalBytes(sr, toRoot);
}

/** Hashes per block of a level's storage (32 KiB); even, so both children of a node share a block. */
const BLOCK = 1024;

/** 0x01 then a node's two children: a node hash's input, framed in place. */
const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_SIZE);
NODE_INPUT[0] = 1;

/**
 * One level's hashes, side by side in fixed blocks: a million-leaf tree is a few hundred
 * blocks rather than two million small arrays for the garbage collector to trace, and a
 * node's hash is written straight into its block.
 */
class HashRow {
  private readonly blocks: Buffer[] = [];
  length = 0;
  /**
   * On the levels of one hash per 16 leaves or fewer, the views `at` made: every proof reads a
   * hash of each level, and those of the upper levels are shared by many proofs.
   */
  private readonly views: (Uint8Array | undefined)[] | undefined;

  constructor(level: number) {
    this.views = level >= 4 ? [] : undefined;
  }

  /** The block and byte offset of a new hash at the end. */
  private grow(): [Buffer, number] {
    const slot = this.length % BLOCK;
    if (slot === 0) this.blocks.push(Buffer.alloc(BLOCK * HASH_SIZE));
    this.length++;
    return [this.blocks[this.blocks.length - 1]!, slot * HASH_SIZE];
  }

  push(h: Uint8Array): void {
    const [block, offset] = this.grow();
    block.set(h, offset);
  }

  /** Appends SHA-256(input). */
  pushDigest(input: Uint8Array): void {
    const [block, offset] = this.grow();
    digestInto(input, block, offset);
  }

  /** Copies the hashes at `index` and `index + 1` (index even) into `out` at `offset`. */
  copyPair(index: number, out: Buffer, offset: number): void {
    const start = (index % BLOCK) * HASH_SIZE;
    this.blocks[Math.floor(index / BLOCK)]!.copy(out, offset, start, start + 2 * HASH_SIZE);
  }

  /** A view of the stored hash (never changed once written), undefined beyond the row. */
  at(index: number): Uint8Array | undefined {
    if (!(index >= 0 && index < this.length) || !Number.isInteger(index)) return undefined;
    const views = this.views;
    if (views !== undefined) {
      while (views.length < this.length) views.push(undefined);
      const kept = views[index];
      if (kept !== undefined) return kept;
    }
    const block = this.blocks[Math.floor(index / BLOCK)]!;
    const view = new Uint8Array(block.buffer, block.byteOffset + (index % BLOCK) * HASH_SIZE, HASH_SIZE);
    if (views !== undefined) views[index] = view;
    return view;
  }
}

/**
 * The complete-subtree hashes of a growing tree, level by level: level h holds one hash per
 * 2^h leaves. Appending a leaf adds at most one hash per level, and every hash is final once
 * written, which is what makes full tiles immutable.
 */
export class HashLevels {
  private readonly levels: HashRow[] = [new HashRow(0)];

  get size(): number {
    return this.levels[0]!.length;
  }

  append(leaf: Uint8Array): void {
    if (leaf.length !== HASH_SIZE) throw new RangeError("hashes are 32 bytes");
    this.levels[0]!.push(leaf);
    this.complete();
  }

  /**
   * Appends the leaf hash of an entry from its hash input (0x00 then the entry), hashed
   * straight into the tree; read it back with `read(0, size - 1)`.
   */
  appendLeafOf(input: Uint8Array): void {
    if (input[0] !== 0) throw new RangeError("a leaf hash's input begins with 0x00");
    this.levels[0]!.pushDigest(input);
    this.complete();
  }

  /** Hashes the nodes the last leaf completed. */
  private complete(): void {
    let row = this.levels[0]!;
    for (let level = 1; row.length % 2 === 0; level++) {
      row.copyPair(row.length - 2, NODE_INPUT, 1);
      if (this.levels.length === level) this.levels.push(new HashRow(level));
      row = this.levels[level]!;
      row.pushDigest(NODE_INPUT);
    }
  }

  readonly read: HashReader = (level, index) => {
    const h = this.levels[level]?.at(index);
    if (h === undefined) throw new RangeError(`no hash at level ${level} index ${index}`);
    return h;
  };

  /**
   * Hashes of the incomplete subtrees [lo, size) on the right edge of the tree of one size, by
   * lo: every proof against that size needs some of them, each a few node hashes to compute.
   * Kept for the size asked for last (the newest checkpoint's, as a rule).
   */
  private edge = { size: -1, hashes: new Map<number, Uint8Array>() };

  private edgeOf(size: number): Map<number, Uint8Array> {
    if (size > this.size) throw new RangeError("size is beyond the tree");
    if (this.edge.size !== size) this.edge = { size, hashes: new Map() };
    return this.edge.hashes;
  }

  root(size = this.size): Promise<Uint8Array> {
    checkSize(size, "size");
    return Promise.resolve(subtree(this.read, 0, size, this.edgeOf(size)) as Uint8Array);
  }

  /** inclusionProof over this tree, synchronously. */
  inclusionProof(index: number, size: number): Uint8Array[] {
    checkSize(size, "size");
    return auditPath(this.read, index, size, this.edgeOf(size)) as Uint8Array[];
  }

  /** consistencyProof over this tree, synchronously. */
  consistencyProof(from: number, to: number): Uint8Array[] {
    checkSize(to, "to");
    return consistencyPath(this.read, from, to, this.edgeOf(to)) as Uint8Array[];
  }
}
