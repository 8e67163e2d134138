import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256 } from "./bytes.js";
import { EMPTY_ROOT, leafHash, nodeHash } from "./hash.js";
import {
  consistencyProof,
  HashLevels,
  type HashReader,
  inclusionProof,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

// The eight leaves of the RFC 6962 / RFC 9162 reference test vectors (certificate-transparency).
const LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(
  unhex,
);
const ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

function tree(n: number, leaf = (i: number): Uint8Array => LEAVES[i]!): HashLevels {
  const t = new HashLevels();
  for (let i = 0; i < n; i++) t.append(leafHash(leaf(i)));
  return t;
}

// RFC 9162 section 2.1, written out literally on lists of leaf hashes, to compare against.
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha256();
  if (d.length === 1) return d[0]!;
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}
function path(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length === 1) return [];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

describe("RFC 9162 Merkle tree", () => {
  it("the empty tree's root is SHA-256 of nothing", async () => {
    assert.equal(hex(EMPTY_ROOT), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert.equal(hex(await new HashLevels().root()), hex(EMPTY_ROOT));
  });

  it("tree heads match the reference vectors for 1..8 leaves", async () => {
    const t = tree(8);
    for (let n = 1; n <= 8; n++) assert.equal(hex(await t.root(n)), ROOTS[n - 1], `size ${n}`);
  });

  it("inclusion proofs match the reference vectors", async () => {
    const t = tree(8);
    const cases: [number, number, string[]][] = [
      [0, 1, []],
      [
        0,
        8,
        [
          "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
      ],
      [
        5,
        8,
        [
          "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
          "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
          "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
      ],
      [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
      [
        1,
        5,
        [
          "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
      ],
    ];
    for (const [index, size, want] of cases) {
      const proof = await inclusionProof(t.read, index, size);
      assert.deepEqual(proof.map(hex), want, `leaf ${index} of ${size}`);
      assert.ok(verifyInclusion(leafHash(LEAVES[index]!), index, size, proof, await t.root(size)));
    }
  });

  it("consistency proofs match the reference vectors", async () => {
    const t = tree(8);
    const cases: [number, number, string[]][] = [
      [1, 1, []],
      [
        1,
        8,
        [
          "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
      ],
      [
        6,
        8,
        [
          "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
          "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
          "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
      ],
      [
        2,
        5,
        [
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
      ],
    ];
    for (const [from, to, want] of cases) {
      const proof = await consistencyProof(t.read, from, to);
      assert.deepEqual(proof.map(hex), want, `${from} to ${to}`);
      assert.ok(verifyConsistency(from, to, proof, await t.root(from), await t.root(to)));
    }
  });

  it("every proof up to 40 leaves equals the RFC's recursive definition and verifies", async () => {
    const leaf = (i: number): Uint8Array => new Uint8Array([i, i >> 8, 7]);
    const t = tree(40, leaf);
    const all = Array.from({ length: t.size }, (_, i) => t.read(0, i) as Uint8Array);
    for (let n = 1; n <= 40; n++) {
      const root = await t.root(n);
      assert.equal(hex(root), hex(mth(all.slice(0, n))));
      for (let m = 0; m < n; m++) {
        const proof = await inclusionProof(t.read, m, n);
        assert.deepEqual(proof.map(hex), path(m, all.slice(0, n)).map(hex));
        assert.ok(verifyInclusion(all[m]!, m, n, proof, root));
        // The same proof must not prove the leaf at another index or in another tree.
        if (n > 1) assert.ok(!verifyInclusion(all[m]!, (m + 1) % n, n, proof, root));
      }
      for (let m = 1; m <= n; m++) {
        const proof = await consistencyProof(t.read, m, n);
        assert.deepEqual(proof.map(hex), subproof(m, all.slice(0, n), true).map(hex));
        assert.ok(verifyConsistency(m, n, proof, await t.root(m), root));
      }
    }
  });

  it("the tree's own proofs (kept right-edge hashes) and proofs over an async reader equal the definition", async () => {
    const leaf = (i: number): Uint8Array => new Uint8Array([i, 3, i >> 8]);
    const t = tree(70, leaf);
    const all = Array.from({ length: t.size }, (_, i) => t.read(0, i) as Uint8Array);
    const slow: HashReader = async (level, index) => t.read(level, index);
    // Sizes in turn, so the kept hashes of one size are never taken for another's.
    for (const n of [70, 33, 70, 1, 64, 65, 7, 70]) {
      const want = all.slice(0, n);
      assert.equal(hex(await t.root(n)), hex(mth(want)), `root ${n}`);
      for (let m = 0; m < n; m++) {
        const expected = path(m, want).map(hex);
        assert.deepEqual(t.inclusionProof(m, n).map(hex), expected, `leaf ${m} of ${n}`);
        assert.deepEqual((await inclusionProof(slow, m, n)).map(hex), expected, `leaf ${m} of ${n}, async`);
      }
      for (let m = 1; m <= n; m++) {
        const expected = subproof(m, want, true).map(hex);
        assert.deepEqual(t.consistencyProof(m, n).map(hex), expected, `${m} to ${n}`);
        assert.deepEqual((await consistencyProof(slow, m, n)).map(hex), expected, `${m} to ${n}, async`);
      }
      assert.equal(hex(await treeHash(slow, n)), hex(mth(want)));
    }
    assert.throws(() => t.inclusionProof(70, 70), RangeError);
    assert.throws(() => t.inclusionProof(0, 71), RangeError);
    assert.throws(() => t.consistencyProof(0, 5), RangeError);
  });

  it("a flipped bit anywhere in a proof, leaf or root fails verification", async () => {
    const t = tree(8);
    const flip = (b: Uint8Array, i: number): Uint8Array => {
      const c = new Uint8Array(b);
      c[i >> 3]! ^= 1 << (i & 7);
      return c;
    };
    const root = await t.root(7);
    const leaf = leafHash(LEAVES[3]!);
    const proof = await inclusionProof(t.read, 3, 7);
    for (let bitIndex = 0; bitIndex < 256; bitIndex++) {
      assert.ok(!verifyInclusion(flip(leaf, bitIndex), 3, 7, proof, root));
      assert.ok(!verifyInclusion(leaf, 3, 7, proof, flip(root, bitIndex)));
      for (let p = 0; p < proof.length; p++) {
        const bad = proof.map((h, i) => (i === p ? flip(h, bitIndex) : h));
        assert.ok(!verifyInclusion(leaf, 3, 7, bad, root));
      }
    }
    const old = await t.root(3);
    const cons = await consistencyProof(t.read, 3, 7);
    for (let bitIndex = 0; bitIndex < 256; bitIndex += 7) {
      assert.ok(!verifyConsistency(3, 7, cons, flip(old, bitIndex), root));
      assert.ok(!verifyConsistency(3, 7, cons, old, flip(root, bitIndex)));
      for (let p = 0; p < cons.length; p++) {
        assert.ok(
          !verifyConsistency(
            3,
            7,
            cons.map((h, i) => (i === p ? flip(h, bitIndex) : h)),
            old,
            root,
          ),
        );
      }
    }
  });

  it("proofs of the wrong length or for impossible sizes fail", async () => {
    const t = tree(8);
    const root = await t.root(8);
    const proof = await inclusionProof(t.read, 2, 8);
    const leaf = leafHash(LEAVES[2]!);
    assert.ok(!verifyInclusion(leaf, 2, 8, proof.slice(0, -1), root));
    assert.ok(!verifyInclusion(leaf, 2, 8, [...proof, root], root));
    assert.ok(!verifyInclusion(leaf, 8, 8, proof, root));
    assert.ok(!verifyInclusion(leaf, -1, 8, proof, root));
    const cons = await consistencyProof(t.read, 3, 8);
    assert.ok(!verifyConsistency(3, 8, [], await t.root(3), root));
    assert.ok(!verifyConsistency(3, 8, cons.slice(1), await t.root(3), root));
    assert.ok(!verifyConsistency(0, 8, cons, await t.root(3), root));
    assert.ok(!verifyConsistency(8, 8, cons, root, root));
    await assert.rejects(inclusionProof(t.read, 8, 8), RangeError);
    await assert.rejects(consistencyProof(t.read, 0, 8), RangeError);
    await assert.rejects(consistencyProof(t.read, 5, 4), RangeError);
  });
});
