import { equalBytes } from "./bytes.js";
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
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

function checkSize(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer`);
}

/** MTH(D[lo:hi]) from complete-subtree hashes (RFC 9162 section 2.1.1). */
export async function subtreeHash(read: HashReader, lo: number, hi: number): Promise<Uint8Array> {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (isPowerOfTwo(n) && lo % n === 0) {
    let level = 0;
    for (let k = n; k > 1; k /= 2) level++;
    return read(level, lo / n);
  }
  const k = split(n);
  return nodeHash(await subtreeHash(read, lo, lo + k), await subtreeHash(read, lo + k, hi));
}

/** The root hash of the tree of the first `size` entries. */
export function treeHash(read: HashReader, size: number): Promise<Uint8Array> {
  checkSize(size, "size");
  return subtreeHash(read, 0, size);
}

/** RFC 9162 section 2.1.3.1: the audit path of leaf `index` in the tree of `size` leaves. */
export async function inclusionProof(read: HashReader, index: number, size: number): Promise<Uint8Array[]> {
  checkSize(size, "size");
  checkSize(index, "index");
  if (index >= size) throw new RangeError("index must be below size");
  const path: Uint8Array[] = [];
  // PATH(m, D[lo:hi]) = PATH(m, left) : MTH(right) or PATH(m-k, right) : MTH(left); the deepest
  // sibling comes first, so collect the siblings top-down and reverse.
  let lo = 0;
  let hi = size;
  const top: Uint8Array[] = [];
  while (hi - lo > 1) {
    const k = split(hi - lo);
    if (index < lo + k) {
      top.push(await subtreeHash(read, lo + k, hi));
      hi = lo + k;
    } else {
      top.push(await subtreeHash(read, lo, lo + k));
      lo = lo + k;
    }
  }
  for (let i = top.length - 1; i >= 0; i--) path.push(top[i]!);
  return path;
}

/** RFC 9162 section 2.1.4.1: the consistency proof from the tree of `from` leaves to that of `to`. */
export async function consistencyProof(read: HashReader, from: number, to: number): Promise<Uint8Array[]> {
  checkSize(from, "from");
  checkSize(to, "to");
  if (from < 1 || from > to) throw new RangeError("from must be in 1..to");
  if (from === to) return [];
  // SUBPROOF(m, D[lo:hi], b), unrolled: every step adds one sibling, deepest last, so reverse.
  const top: Uint8Array[] = [];
  let m = from;
  let lo = 0;
  let hi = to;
  let complete = true;
  while (m !== hi - lo) {
    const k = split(hi - lo);
    if (m <= k) {
      top.push(await subtreeHash(read, lo + k, hi));
      hi = lo + k;
    } else {
      top.push(await subtreeHash(read, lo, lo + k));
      m -= k;
      lo = lo + k;
      complete = false;
    }
  }
  if (!complete) top.push(await subtreeHash(read, lo, hi));
  return top.reverse();
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

/**
 * The complete-subtree hashes of a growing tree, level by level: level h holds one hash per
 * 2^h leaves. Appending a leaf adds at most one hash per level, and every hash is final once
 * written, which is what makes full tiles immutable.
 */
export class HashLevels {
  readonly levels: Uint8Array[][] = [[]];

  get size(): number {
    return this.levels[0]!.length;
  }

  append(leaf: Uint8Array): void {
    let h = leaf;
    let level = 0;
    for (;;) {
      const row = this.levels[level]!;
      row.push(h);
      if (row.length % 2 === 1) return;
      h = nodeHash(row[row.length - 2]!, h);
      level++;
      if (this.levels.length === level) this.levels.push([]);
    }
  }

  readonly read: HashReader = (level, index) => {
    const h = this.levels[level]?.[index];
    if (h === undefined) throw new RangeError(`no hash at level ${level} index ${index}`);
    return h;
  };

  root(size = this.size): Promise<Uint8Array> {
    if (size > this.size) throw new RangeError("size is beyond the tree");
    return treeHash(this.read, size);
  }
}
