import { equalBytes, fromBase64, sha256, toBase64 } from "./bytes.js";
import { HASH_SIZE, nodeHash } from "./hash.js";

/** Depth of the head map: one level per bit of a history key. */
export const HEADMAP_DEPTH = 256;

/** EMPTY[d] = Zd, the hash of an empty subtree whose root is at depth d (API.md section 11). */
export const EMPTY_HASHES: readonly Uint8Array[] = (() => {
  const z: Uint8Array[] = new Array(HEADMAP_DEPTH + 1);
  z[HEADMAP_DEPTH] = new Uint8Array(HASH_SIZE);
  for (let d = HEADMAP_DEPTH - 1; d >= 0; d--) z[d] = nodeHash(z[d + 1]!, z[d + 1]!);
  return z;
})();

const LEAF = new Uint8Array([0]);

/** A present leaf at depth 256. */
export function headLeafHash(key: Uint8Array, value: Uint8Array): Uint8Array {
  return sha256(LEAF, key, value);
}

/** Bit i of a key, most significant first: 0 goes left, 1 right. */
export function bit(key: Uint8Array, i: number): number {
  return (key[i >> 3]! >> (7 - (i & 7))) & 1;
}

/** A head-map proof as the API carries it: which siblings are non-empty, and those siblings. */
export interface HeadMapProof {
  bitmap: string;
  siblings: string[];
}

interface Item {
  readonly key: Uint8Array;
  /** The key in hex, for the subtree ids. */
  readonly hex: string;
  value: Uint8Array;
}

function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < HASH_SIZE; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * The sparse Merkle tree from history keys to the leaf hash of each history's newest record.
 * Subtree hashes are computed from the sorted keys on demand and kept, by the key prefix that
 * names the subtree; a change forgets only the 257 subtrees on its key's path, so after the first
 * root (about 256·n hashes for n keys) each changed history costs about 512 hashes.
 */
export class HeadMap {
  private readonly items = new Map<string, Item>();
  /** Every item in key order, but those added since it was last brought up to date. */
  private sorted: Item[] = [];
  /** Items not in `sorted` yet: merged in at the next read, so a round of sets sorts only its own. */
  private added: Item[] = [];
  /** Subtree hashes by `depth:prefix`. */
  private readonly cache = new Map<string, Uint8Array>();
  /** Keys set since the cache was last brought up to date. */
  private readonly dirty = new Set<string>();

  get size(): number {
    return this.items.size;
  }

  set(key: Uint8Array, value: Uint8Array): void {
    if (key.length !== HASH_SIZE || value.length !== HASH_SIZE) throw new RangeError("keys and values are 32 bytes");
    const hex = hexOf(key);
    let item = this.items.get(hex);
    if (item !== undefined) {
      // The sorted list holds the same item: a new head of a known history moves nothing.
      item.value = new Uint8Array(value);
    } else {
      item = { key: new Uint8Array(key), hex, value: new Uint8Array(value) };
      this.items.set(hex, item);
      this.added.push(item);
    }
    this.dirty.add(hex);
  }

  /** Forgets the cached subtrees on the paths of the keys set since the last read (once per key). */
  private invalidate(): void {
    if (this.dirty.size === 0) return;
    for (const hex of this.dirty) {
      for (let d = 0; d <= HEADMAP_DEPTH; d++) this.cache.delete(prefixId(hex, d));
    }
    this.dirty.clear();
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.items.get(hexOf(key))?.value;
  }

  private all(): Item[] {
    this.invalidate();
    if (this.added.length > 0) {
      const added = this.added.sort((a, b) => compareKeys(a.key, b.key));
      const old = this.sorted;
      const merged: Item[] = new Array(old.length + added.length);
      let i = 0;
      let j = 0;
      for (let k = 0; k < merged.length; k++) {
        merged[k] =
          j >= added.length || (i < old.length && compareKeys(old[i]!.key, added[j]!.key) < 0)
            ? old[i++]!
            : added[j++]!;
      }
      this.sorted = merged;
      this.added = [];
    }
    return this.sorted;
  }

  root(): Uint8Array {
    const all = this.all();
    return this.hashRange(all, 0, all.length, 0);
  }

  /** The hash of the subtree at `depth` holding the sorted items [lo, hi), which share depth bits. */
  private hashRange(all: Item[], lo: number, hi: number, depth: number): Uint8Array {
    if (lo === hi) return EMPTY_HASHES[depth]!;
    const id = prefixId(all[lo]!.hex, depth);
    const known = this.cache.get(id);
    if (known !== undefined) return known;
    let h: Uint8Array;
    if (hi - lo === 1) {
      const { key, value } = all[lo]!;
      h = headLeafHash(key, value);
      for (let i = HEADMAP_DEPTH - 1; i >= depth; i--) {
        h = bit(key, i) === 0 ? nodeHash(h, EMPTY_HASHES[i + 1]!) : nodeHash(EMPTY_HASHES[i + 1]!, h);
      }
    } else {
      const mid = split(all, lo, hi, depth);
      h = nodeHash(this.hashRange(all, lo, mid, depth + 1), this.hashRange(all, mid, hi, depth + 1));
    }
    this.cache.set(id, h);
    return h;
  }

  /** The proof that `key` maps to its value, or, when absent, that it maps to nothing. */
  prove(key: Uint8Array): HeadMapProof {
    const all = this.all();
    let lo = 0;
    let hi = all.length;
    const bitmap = new Uint8Array(HASH_SIZE);
    const siblings: string[] = [];
    for (let i = 0; i < HEADMAP_DEPTH; i++) {
      // Items [lo, hi) share the key's first i bits; split them by bit i.
      const mid = split(all, lo, hi, i);
      const [sLo, sHi, nLo, nHi] = bit(key, i) === 0 ? [mid, hi, lo, mid] : [lo, mid, mid, hi];
      if (sHi > sLo) {
        bitmap[i >> 3]! |= 0x80 >> (i & 7);
        siblings.push(toBase64(this.hashRange(all, sLo, sHi, i + 1)));
      }
      lo = nLo;
      hi = nHi;
    }
    return { bitmap: toBase64(bitmap), siblings };
  }
}

/**
 * The first of the sorted items [lo, hi), which share their first `depth` bits, whose bit
 * `depth` is 1 (hi when none is): a binary search, so a proof costs the same in any map size.
 */
function split(all: readonly Item[], lo: number, hi: number, depth: number): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (bit(all[m]!.key, depth) === 0) a = m + 1;
    else b = m;
  }
  return a;
}

/** Names the subtree at `depth` on `key`'s path: the depth and the key's first `depth` bits. */
const HEX = "0123456789abcdef";

/** The key in hex, from which every prefix id is cut without another encoding. */
function hexOf(key: Uint8Array): string {
  let out = "";
  for (const b of key) out += HEX[b >> 4]! + HEX[b & 15]!;
  return out;
}

/** Names the subtree at `depth` holding `key`: the depth and the key's first `depth` bits. */
function prefixId(hex: string, depth: number): string {
  const whole = depth >> 2;
  const rest = depth & 3;
  if (rest === 0) return `${depth}:${hex.slice(0, whole)}`;
  const nibble = Number.parseInt(hex[whole]!, 16) & ((0xf << (4 - rest)) & 0xf);
  return `${depth}:${hex.slice(0, whole)}${HEX[nibble]}`;
}

/**
 * Recomputes the head-map root from a proof for `key` mapping to `value` (null: absent) and
 * compares it with `root`. Any malformed proof is simply a failed verification.
 */
export function verifyHeadMapProof(
  key: Uint8Array,
  value: Uint8Array | null,
  proof: HeadMapProof,
  root: Uint8Array,
): boolean {
  try {
    if (key.length !== HASH_SIZE || root.length !== HASH_SIZE) return false;
    if (value !== null && value.length !== HASH_SIZE) return false;
    const bitmap = fromBase64(proof.bitmap);
    if (bitmap.length !== HASH_SIZE || !Array.isArray(proof.siblings)) return false;
    const siblings = proof.siblings.map(fromBase64);
    if (!siblings.every((s) => s.length === HASH_SIZE)) return false;
    let used = 0;
    for (let i = 0; i < HEADMAP_DEPTH; i++) used += bit(bitmap, i);
    if (used !== siblings.length) return false;
    let h = value === null ? EMPTY_HASHES[HEADMAP_DEPTH]! : headLeafHash(key, value);
    let next = siblings.length - 1;
    for (let i = HEADMAP_DEPTH - 1; i >= 0; i--) {
      const sibling = bit(bitmap, i) === 1 ? siblings[next--]! : EMPTY_HASHES[i + 1]!;
      // One map, one proof: a listed sibling that is empty would give a second encoding.
      if (bit(bitmap, i) === 1 && equalBytes(sibling, EMPTY_HASHES[i + 1]!)) return false;
      h = bit(key, i) === 0 ? nodeHash(h, sibling) : nodeHash(sibling, h);
    }
    return equalBytes(h, root);
  } catch {
    return false;
  }
}
