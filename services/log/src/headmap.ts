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

/**
 * A subtree of the map that is not empty: one key (a leaf) or a branch whose two sides both
 * hold keys. Nodes hang at the depth where their parent's side begins (`hang`); between there
 * and their own depth (256 for a leaf, the splitting bit for a branch) every sibling is empty.
 */
class Leaf {
  /** The subtree hash at `hang`; undefined when the value or `hang` changed since. */
  hash: Uint8Array | undefined = undefined;
  /** `hash` in base64, once a proof needed it. */
  text: string | undefined = undefined;
  constructor(
    readonly key: Uint8Array,
    readonly value: Uint8Array,
    public hang: number,
  ) {}
}

class Branch {
  hash: Uint8Array | undefined = undefined;
  text: string | undefined = undefined;
  /** The subtree hash at `depth`, undefined when a key below it changed. */
  own: Uint8Array | undefined = undefined;
  /**
   * Its children's `text`, kept here too: a proof reads the sibling's from the node it walks
   * through rather than from the sibling, one object fewer to reach per level.
   */
  leftText: string | undefined = undefined;
  rightText: string | undefined = undefined;
  constructor(
    /** A key below it: the keys below share their first `depth` bits with it. */
    readonly key: Uint8Array,
    /** The bit that splits its keys: 0 on the left, 1 on the right. */
    readonly depth: number,
    public hang: number,
    public left: MapNode,
    public right: MapNode,
  ) {}
}

type MapNode = Leaf | Branch;

/**
 * The sparse Merkle tree from history keys to the leaf hash of each history's newest record,
 * kept as a binary trie with only the branching nodes. Each node keeps its hash until a key
 * below it changes, so a change rehashes only its own path (about 256 hashes, the chain of
 * empty siblings above its leaf) and only when the root or a proof next needs it, once per
 * key however many times it changed meanwhile. A proof walks the branches on a key's path
 * (about log2 of the number of keys) and reads their siblings' kept hashes.
 */
export class HeadMap {
  private top: MapNode | undefined = undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  set(key: Uint8Array, value: Uint8Array): void {
    if (key.length !== HASH_SIZE || value.length !== HASH_SIZE) throw new RangeError("keys and values are 32 bytes");
    let parent: Branch | undefined;
    let node = this.top;
    while (node !== undefined) {
      const differs = firstDifference(key, node.key, node.hang, node instanceof Leaf ? HEADMAP_DEPTH : node.depth);
      if (differs >= 0) {
        // The key leaves the node's path above it: a branch at that bit holds both.
        const leaf = new Leaf(new Uint8Array(key), new Uint8Array(value), differs + 1);
        const branch =
          bit(key, differs) === 0
            ? new Branch(node.key, differs, node.hang, leaf, node)
            : new Branch(node.key, differs, node.hang, node, leaf);
        node.hang = differs + 1;
        node.hash = undefined;
        node.text = undefined;
        this.replace(parent, node, branch);
        this.count++;
        return;
      }
      node.hash = undefined;
      node.text = undefined;
      if (node instanceof Leaf) {
        // Its own copy, overwritten: a history's new head allocates nothing.
        node.value.set(value);
        return;
      }
      node.own = undefined;
      parent = node;
      if (bit(key, node.depth) === 0) {
        node.leftText = undefined;
        node = node.left;
      } else {
        node.rightText = undefined;
        node = node.right;
      }
    }
    this.top = new Leaf(new Uint8Array(key), new Uint8Array(value), 0);
    this.count++;
  }

  private replace(parent: Branch | undefined, old: MapNode, next: MapNode): void {
    if (parent === undefined) this.top = next;
    else if (parent.left === old) parent.left = next;
    else parent.right = next;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    let node = this.top;
    while (node instanceof Branch) node = bit(key, node.depth) === 0 ? node.left : node.right;
    // A copy: the map overwrites its own when the key's value changes.
    return node !== undefined && firstDifference(key, node.key, 0, HEADMAP_DEPTH) < 0
      ? new Uint8Array(node.value)
      : undefined;
  }

  root(): Uint8Array {
    return this.top === undefined ? EMPTY_HASHES[0]! : hashOf(this.top);
  }

  /** The proof that `key` maps to its value, or, when absent, that it maps to nothing. */
  prove(key: Uint8Array): HeadMapProof {
    const bitmap = new Uint8Array(HASH_SIZE);
    const siblings: string[] = [];
    let node = this.top;
    while (node !== undefined) {
      const own = node instanceof Leaf ? HEADMAP_DEPTH : node.depth;
      const differs = firstDifference(key, node.key, node.hang, own);
      if (differs >= 0) {
        // Absent: from bit `differs` on, the key's side is empty and the node's is its sibling.
        bitmap[differs >> 3]! |= 0x80 >> (differs & 7);
        siblings.push(toBase64(hashAt(node, differs + 1)));
        break;
      }
      if (node instanceof Leaf) break;
      bitmap[own >> 3]! |= 0x80 >> (own & 7);
      if (bit(key, own) === 1) {
        node.leftText ??= textOf(node.left);
        siblings.push(node.leftText);
        node = node.right;
      } else {
        node.rightText ??= textOf(node.right);
        siblings.push(node.rightText);
        node = node.left;
      }
    }
    return { bitmap: toBase64(bitmap), siblings };
  }
}

/** A node's hash at the depth it hangs, computed once after each change below it. */
function hashOf(node: MapNode): Uint8Array {
  if (node.hash === undefined) {
    node.hash = hashAt(node, node.hang);
    node.text = undefined;
  }
  return node.hash;
}

function textOf(node: MapNode): string {
  // Changes below a node forget its text with its hash.
  node.text ??= toBase64(hashOf(node));
  return node.text;
}

/** A node's subtree hash at `depth` (from `hang` to its own depth): its own hash under a chain of empty siblings. */
function hashAt(node: MapNode, depth: number): Uint8Array {
  let h: Uint8Array;
  let d: number;
  if (node instanceof Leaf) {
    h = headLeafHash(node.key, node.value);
    d = HEADMAP_DEPTH;
  } else {
    if (node.own === undefined) node.own = nodeHash(hashOf(node.left), hashOf(node.right));
    h = node.own;
    d = node.depth;
  }
  const key = node.key;
  for (let i = d - 1; i >= depth; i--) {
    h = bit(key, i) === 0 ? nodeHash(h, EMPTY_HASHES[i + 1]!) : nodeHash(EMPTY_HASHES[i + 1]!, h);
  }
  return h;
}

/** The first bit in [from, to) where the keys differ, -1 when none does. */
function firstDifference(a: Uint8Array, b: Uint8Array, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const byte = i >> 3;
    const x = (a[byte]! ^ b[byte]!) & (0xff >> (i & 7));
    if (x !== 0) {
      const at = (byte << 3) + Math.clz32(x) - 24;
      return at < to ? at : -1;
    }
    i = (byte + 1) << 3;
  }
  return -1;
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
