import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { leafHash } from "./hash.js";
import { HashLevels, inclusionProof, treeHash } from "./merkle.js";
import {
  decodeEntryBundle,
  encodeEntryBundle,
  encodeTileIndex,
  parseHashTile,
  parseTilePath,
  readHashTile,
  tileExists,
  tileHashReader,
  tilePath,
  tilesOf,
} from "./tiles.js";

describe("C2SP tlog-tiles", () => {
  it("encodes tile indexes in 3-digit groups with x prefixes", () => {
    assert.equal(encodeTileIndex(0), "000");
    assert.equal(encodeTileIndex(7), "007");
    assert.equal(encodeTileIndex(1234067), "x001/x234/067");
    assert.equal(encodeTileIndex(1000), "x001/000");
    assert.equal(tilePath({ level: 0, index: 1234067, width: 256 }), "tile/0/x001/x234/067");
    assert.equal(tilePath({ level: 2, index: 5, width: 17 }), "tile/2/005.p/17");
    assert.equal(tilePath({ level: "entries", index: 0, width: 3 }), "tile/entries/000.p/3");
  });

  it("parses exactly the paths it writes", () => {
    for (const t of [
      { level: 0, index: 1234067, width: 256 },
      { level: 1, index: 0, width: 1 },
      { level: "entries" as const, index: 999, width: 255 },
    ]) {
      assert.deepEqual(parseTilePath(tilePath(t)), t);
    }
    for (const bad of [
      "tile/0/1",
      "tile/0/x000/001",
      "tile/0/001.p/256",
      "tile/0/001.p/0",
      "tile/0/001.p/07",
      "tile/00/001",
      "tile/0/001/",
      "tile/data/001",
      "tile/0/x001",
    ]) {
      assert.equal(parseTilePath(bad), undefined, bad);
    }
  });

  it("lists full tiles and the one partial tile per level of a tree", () => {
    const size = 256 * 256 + 256 * 3 + 5;
    const tiles = tilesOf(size).map(tilePath);
    assert.ok(tiles.includes("tile/0/255"));
    assert.ok(tiles.includes("tile/0/259.p/5"));
    assert.ok(tiles.includes("tile/1/000"));
    assert.ok(tiles.includes("tile/1/001.p/3"));
    assert.ok(tiles.includes("tile/2/000.p/1"));
    assert.ok(tiles.includes("tile/entries/259.p/5"));
    assert.ok(tileExists({ level: 0, index: 259, width: 5 }, size));
    // The partial tile of an older, smaller tree is still there; one wider than the tree is not.
    assert.ok(tileExists({ level: 0, index: 259, width: 4 }, size));
    assert.ok(!tileExists({ level: 0, index: 259, width: 6 }, size));
    assert.ok(!tileExists({ level: 0, index: 260, width: 1 }, size));
    assert.ok(!tileExists({ level: 1, index: 1, width: 256 }, size));
  });

  it("serves every proof hash from tiles alone", async () => {
    const t = new HashLevels();
    const size = 256 * 2 + 77;
    for (let i = 0; i < size; i++) t.append(leafHash(new Uint8Array([i & 0xff, i >> 8])));
    const tiles = new Map<string, Uint8Array>();
    for (const tile of tilesOf(size)) {
      if (tile.level !== "entries") tiles.set(tilePath(tile), await readHashTile(t.read, tile));
    }
    const fromTiles = tileHashReader(async (level, index, width) => {
      const bytes = tiles.get(tilePath({ level, index, width }));
      assert.ok(bytes, `tile ${level}/${index}.p/${width}`);
      return parseHashTile(bytes, width);
    }, size);
    assert.deepEqual(await treeHash(fromTiles, size), await treeHash(t.read, size));
    for (const i of [0, 255, 256, 511, 512, size - 1]) {
      assert.deepEqual(await inclusionProof(fromTiles, i, size), await inclusionProof(t.read, i, size));
    }
  });

  it("frames entry bundles with 2-byte big-endian lengths", () => {
    const entries = [new Uint8Array([]), new Uint8Array([1, 2, 3]), new Uint8Array(300).fill(9)];
    const bundle = encodeEntryBundle(entries);
    assert.deepEqual([...bundle.subarray(0, 7)], [0, 0, 0, 3, 1, 2, 3]);
    assert.deepEqual([...bundle.subarray(7, 9)], [0x01, 0x2c]);
    assert.deepEqual(decodeEntryBundle(bundle), entries);
    assert.throws(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1)));
    assert.throws(() => encodeEntryBundle([new Uint8Array(65536)]));
  });
});
