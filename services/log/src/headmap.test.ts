import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { fromBase64, toBase64 } from "./bytes.js";
import { EMPTY_HASHES, HeadMap, verifyHeadMapProof } from "./headmap.js";

// Independent of the implementation: node's hash directly, bytes spelled out.
const H = (...parts: (Uint8Array | number[])[]): Uint8Array => {
  const h = createHash("sha256");
  for (const p of parts) h.update(Uint8Array.from(p));
  return new Uint8Array(h.digest());
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const filled = (first: number, fill: number, value = 0): Uint8Array => {
  const b = new Uint8Array(32).fill(fill);
  b[0] = first;
  b[31] = value;
  return b;
};

/** Z256 = 32 zero bytes; Zd = H(0x01 || Zd+1 || Zd+1). */
function z(d: number): Uint8Array {
  let h: Uint8Array = new Uint8Array(32);
  for (let i = 256; i > d; i--) h = H([1], h, h);
  return h;
}

/**
 * The hash of a subtree rooted at depth d that holds only key k: the leaf H(0x00 || k || v) at
 * depth 256, then at each depth i from 255 up to d, bit i of k says whether the running hash is
 * the right child (sibling Zi+1 on the left) or the left one.
 */
function lone(k: Uint8Array, v: Uint8Array, d: number): Uint8Array {
  let h = H([0], k, v);
  for (let i = 255; i >= d; i--) {
    const bitI = (k[i >> 3]! >> (7 - (i % 8))) & 1;
    h = bitI === 1 ? H([1], z(i + 1), h) : H([1], h, z(i + 1));
  }
  return h;
}

describe("head map (API.md section 11)", () => {
  const v1 = H([0xa1]);
  const v2 = H([0xb2]);
  const v3 = H([0xc3]);
  // k1 starts with bits 00, k2 with 01, k3 with 1: the root's right child holds only k3, its
  // left child splits at depth 1 into k1 (left) and k2 (right).
  const k1 = filled(0x00, 0x5a, 1);
  const k2 = filled(0x40, 0xa5, 2);
  const k3 = filled(0x80, 0x3c, 3);

  it("the empty map's root is Z0", () => {
    assert.equal(hex(EMPTY_HASHES[256]!), "00".repeat(32));
    assert.equal(hex(new HeadMap().root()), hex(z(0)));
    assert.equal(hex(EMPTY_HASHES[0]!), hex(z(0)));
  });

  it("one key: the leaf hashed up 256 levels beside empty subtrees", () => {
    const m = new HeadMap();
    m.set(k3, v3);
    assert.equal(hex(m.root()), hex(lone(k3, v3, 0)));
    // k3's first bit is 1, so the last step puts Z1 on the left.
    assert.equal(hex(m.root()), hex(H([1], z(1), lone(k3, v3, 1))));
  });

  it("three keys: root = H(1 || H(1 || lone(k1 at 2) || lone(k2 at 2)) || lone(k3 at 1))", () => {
    const m = new HeadMap();
    m.set(k2, v2);
    m.set(k3, v3);
    m.set(k1, v1);
    const left = H([1], lone(k1, v1, 2), lone(k2, v2, 2));
    const right = lone(k3, v3, 1);
    assert.equal(hex(m.root()), hex(H([1], left, right)));
  });

  it("a proof lists the non-empty siblings from depth 1 down and verifies", () => {
    const m = new HeadMap();
    for (const [k, v] of [
      [k1, v1],
      [k2, v2],
      [k3, v3],
    ] as const)
      m.set(k, v);
    const root = m.root();
    const p1 = m.prove(k1);
    // k1's siblings: depth 1 the subtree of k3, depth 2 the subtree of k2, every other one empty.
    assert.deepEqual(
      p1.siblings.map((s) => hex(fromBase64(s))),
      [hex(lone(k3, v3, 1)), hex(lone(k2, v2, 2))],
    );
    assert.equal(hex(fromBase64(p1.bitmap)), `c0${"00".repeat(31)}`);
    for (const [k, v] of [
      [k1, v1],
      [k2, v2],
      [k3, v3],
    ] as const) {
      assert.ok(verifyHeadMapProof(k, v, m.prove(k), root));
    }
    // A proof for a key with another value, or for the wrong key, fails.
    assert.ok(!verifyHeadMapProof(k1, v2, p1, root));
    assert.ok(!verifyHeadMapProof(k2, v1, p1, root));
    // An absent key gets a non-membership proof, and cannot be proved present.
    const absent = filled(0xc0, 0x11);
    assert.ok(verifyHeadMapProof(absent, null, m.prove(absent), root));
    assert.ok(!verifyHeadMapProof(absent, v1, m.prove(absent), root));
    assert.ok(!verifyHeadMapProof(k1, null, p1, root));
  });

  it("a flipped bit in the bitmap, a sibling, the key, the value or the root fails", () => {
    const m = new HeadMap();
    m.set(k1, v1);
    m.set(k2, v2);
    m.set(k3, v3);
    const root = m.root();
    const p = m.prove(k2);
    const flip = (b: Uint8Array, i: number): Uint8Array => {
      const c = new Uint8Array(b);
      c[i >> 3]! ^= 0x80 >> (i & 7);
      return c;
    };
    for (let i = 0; i < 256; i++) {
      assert.ok(!verifyHeadMapProof(flip(k2, i), v2, p, root), `key bit ${i}`);
      assert.ok(!verifyHeadMapProof(k2, flip(v2, i), p, root), `value bit ${i}`);
      assert.ok(!verifyHeadMapProof(k2, v2, p, flip(root, i)), `root bit ${i}`);
      const bitmap = toBase64(flip(fromBase64(p.bitmap), i));
      assert.ok(!verifyHeadMapProof(k2, v2, { ...p, bitmap }, root), `bitmap bit ${i}`);
      for (let s = 0; s < p.siblings.length; s++) {
        const siblings = p.siblings.map((x, j) => (j === s ? toBase64(flip(fromBase64(x), i)) : x));
        assert.ok(!verifyHeadMapProof(k2, v2, { ...p, siblings }, root), `sibling ${s} bit ${i}`);
      }
    }
    assert.ok(!verifyHeadMapProof(k2, v2, { ...p, siblings: p.siblings.slice(1) }, root));
    assert.ok(!verifyHeadMapProof(k2, v2, { bitmap: "not base64!", siblings: p.siblings }, root));
  });

  it("replacing a history's head changes the root; restoring it restores the root", () => {
    const m = new HeadMap();
    m.set(k1, v1);
    m.set(k2, v2);
    const before = hex(m.root());
    m.set(k1, v3);
    assert.notEqual(hex(m.root()), before);
    m.set(k1, v1);
    assert.equal(hex(m.root()), before);
  });

  it("a map updated step by step has the root and proofs of one built at once from its final state", () => {
    const incremental = new HeadMap();
    const final = new Map<string, [Uint8Array, Uint8Array]>();
    // Keys sharing long prefixes too, so updates land inside cached subtrees.
    const keys = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? H([i]) : filled(0x80, i, i)));
    for (let step = 0; step < 200; step++) {
      const k = keys[(step * 7) % keys.length]!;
      const v = H([step, 1]);
      incremental.set(k, v);
      final.set(toBase64(k), [k, v]);
      if (step % 25 === 0) {
        const fresh = new HeadMap();
        for (const [fk, fv] of final.values()) fresh.set(fk, fv);
        assert.equal(hex(incremental.root()), hex(fresh.root()), `step ${step}`);
        assert.deepEqual(incremental.prove(k), fresh.prove(k));
      }
    }
    const root = incremental.root();
    for (const [k, v] of final.values()) assert.ok(verifyHeadMapProof(k, v, incremental.prove(k), root));
  });

  it("roots and proofs equal the definition computed directly, for keys that share long prefixes too", () => {
    const zs: Uint8Array[] = [];
    zs[256] = new Uint8Array(32);
    for (let d = 255; d >= 0; d--) zs[d] = H([1], zs[d + 1]!, zs[d + 1]!);
    const bitOf = (k: Uint8Array, i: number): number => (k[i >> 3]! >> (7 - (i % 8))) & 1;
    // The map's definition, on the list of its pairs: split by bit `depth`, empty sides are Zd.
    const definition = (items: [Uint8Array, Uint8Array][], depth: number): Uint8Array => {
      if (items.length === 0) return zs[depth]!;
      if (depth === 256) return H([0], items[0]![0], items[0]![1]);
      const left = items.filter(([k]) => bitOf(k, depth) === 0);
      const right = items.filter(([k]) => bitOf(k, depth) === 1);
      return H([1], definition(left, depth + 1), definition(right, depth + 1));
    };
    const proofOf = (items: [Uint8Array, Uint8Array][], key: Uint8Array) => {
      const bitmap = new Uint8Array(32);
      const siblings: string[] = [];
      let side = items;
      for (let i = 0; i < 256; i++) {
        const other = side.filter(([k]) => bitOf(k, i) !== bitOf(key, i));
        side = side.filter(([k]) => bitOf(k, i) === bitOf(key, i));
        if (other.length > 0) {
          bitmap[i >> 3]! |= 0x80 >> (i % 8);
          siblings.push(toBase64(definition(other, i + 1)));
        }
      }
      return { bitmap: toBase64(bitmap), siblings };
    };
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const base = H([9]);
    const keys: Uint8Array[] = [];
    for (let i = 0; i < 12; i++) keys.push(H([i, 42]));
    // Keys that differ from `base` (and from each other) only deep down, some in the last bits.
    for (const at of [255, 254, 250, 200, 129, 128, 127, 64, 8, 1, 0]) {
      const k = new Uint8Array(base);
      k[at >> 3]! ^= 0x80 >> (at % 8);
      keys.push(k);
    }
    keys.push(base);
    const map = new HeadMap();
    const state = new Map<string, [Uint8Array, Uint8Array]>();
    for (let step = 0; step < 120; step++) {
      const k = keys[random(keys.length)]!;
      const v = H([step, 5]);
      map.set(k, v);
      state.set(hex(k), [k, v]);
      if (step % 10 !== 9) continue;
      const items = [...state.values()];
      const root = definition(items, 0);
      assert.equal(hex(map.root()), hex(root), `step ${step}`);
      assert.equal(map.size, items.length);
      for (const q of [...keys, H([77]), new Uint8Array(32)]) {
        const proof = map.prove(q);
        assert.deepEqual(proof, proofOf(items, q), `step ${step} key ${hex(q)}`);
        const value = state.get(hex(q))?.[1] ?? null;
        assert.ok(verifyHeadMapProof(q, value, proof, root));
        assert.equal(map.get(q) === undefined ? null : hex(map.get(q)!), value === null ? null : hex(value));
      }
    }
  });
});
