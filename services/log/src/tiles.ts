import { concat } from "./bytes.js";
import { HASH_SIZE, nodeHash } from "./hash.js";
import type { HashReader } from "./merkle.js";

/** c2sp.org/tlog-tiles: tiles are 2^8 = 256 hashes (or entries) wide. */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;

/** A hash tile (level >= 0) or an entry bundle (level "entries"); width 1..256, 256 when full. */
export interface Tile {
  level: number | "entries";
  index: number;
  width: number;
}

/** `<N>` as zero-padded 3-digit path elements, all but the last prefixed with `x`. */
export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("tile index must be a non-negative integer");
  const groups: string[] = [];
  let rest = n;
  do {
    groups.unshift(String(rest % 1000).padStart(3, "0"));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

/** The path below the log's prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`. */
export function tilePath(t: Tile): string {
  if (!Number.isInteger(t.width) || t.width < 1 || t.width > TILE_WIDTH) throw new RangeError("tile width is 1..256");
  const level = t.level === "entries" ? "entries" : String(t.level);
  const partial = t.width < TILE_WIDTH ? `.p/${t.width}` : "";
  return `tile/${level}/${encodeTileIndex(t.index)}${partial}`;
}

/**
 * Parses a tile path (as tilePath writes it, and nothing else: one URL per tile). Returns
 * undefined for anything malformed.
 */
export function parseTilePath(path: string): Tile | undefined {
  const m = /^tile\/(entries|0|[1-9][0-9]{0,2})\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/.exec(path);
  if (m === null) return undefined;
  const groups = m[2]!.split("/").map((g) => g.replace("x", ""));
  // A leading x000 group would give a second name to the same tile.
  if (groups.length > 1 && groups[0] === "000") return undefined;
  if (groups.length > 5) return undefined;
  const index = groups.reduce((acc, g) => acc * 1000 + Number(g), 0);
  const width = m[3] === undefined ? TILE_WIDTH : Number(m[3]);
  // A full tile has no .p/256 alias.
  if (m[3] !== undefined && width >= TILE_WIDTH) return undefined;
  const level = m[1] === "entries" ? "entries" : Number(m[1]);
  if (level !== "entries" && level > 63) return undefined;
  return { level, index, width };
}

/** How many hashes the tree of `size` leaves has at tile level L (tree level 8·L). */
function hashesAtLevel(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/**
 * Does the tree of `size` leaves have this tile? Every hash in a tile is final once it exists, so
 * a tile of width W is there as soon as its first W hashes are: a client holding an older
 * checkpoint still finds the partial tiles of that tree, with the same bytes.
 */
export function tileExists(t: Tile, size: number): boolean {
  const count = t.level === "entries" ? size : hashesAtLevel(size, t.level);
  return t.index * TILE_WIDTH + t.width <= count;
}

/** Every tile of the tree of `size` leaves: full ones, then each level's partial one. */
export function tilesOf(size: number): Tile[] {
  const out: Tile[] = [];
  for (let level = 0; ; level++) {
    const count = hashesAtLevel(size, level);
    if (count === 0) break;
    for (let i = 0; i * TILE_WIDTH < count; i++) {
      out.push({ level, index: i, width: Math.min(TILE_WIDTH, count - i * TILE_WIDTH) });
    }
  }
  for (let i = 0; i * TILE_WIDTH < size; i++) {
    out.push({ level: "entries", index: i, width: Math.min(TILE_WIDTH, size - i * TILE_WIDTH) });
  }
  return out;
}

/** A hash tile's bytes: its `width` hashes of tree level 8·L, concatenated. */
export async function readHashTile(read: HashReader, t: Tile): Promise<Uint8Array> {
  if (t.level === "entries") throw new Error("not a hash tile");
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < t.width; i++) hashes.push(await read(t.level * TILE_HEIGHT, t.index * TILE_WIDTH + i));
  return concat(...hashes);
}

/** Splits a hash tile's bytes back into hashes. */
export function parseHashTile(bytes: Uint8Array, width: number): Uint8Array[] {
  if (bytes.length !== width * HASH_SIZE) throw new Error("hash tile has the wrong length");
  const out: Uint8Array[] = [];
  for (let i = 0; i < width; i++) out.push(bytes.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return out;
}

/** An entry bundle: each entry as a 2-byte big-endian length, then its bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    if (e.length > 0xffff) throw new RangeError("entry over 65,535 bytes");
    parts.push(new Uint8Array([e.length >> 8, e.length & 0xff]), e);
  }
  return concat(...parts);
}

export function decodeEntryBundle(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  while (o < bytes.length) {
    if (o + 2 > bytes.length) throw new Error("truncated entry bundle");
    const n = (bytes[o]! << 8) | bytes[o + 1]!;
    if (o + 2 + n > bytes.length) throw new Error("truncated entry bundle");
    out.push(bytes.slice(o + 2, o + 2 + n));
    o += 2 + n;
  }
  return out;
}

/**
 * A HashReader over hash tiles: any tree-level-h hash is either in a tile (h a multiple of 8) or
 * the root of a complete subtree of the tile below it, computed from that tile's hashes.
 */
export function tileHashReader(
  readTile: (level: number, index: number, width: number) => Promise<Uint8Array[]>,
  size: number,
): HashReader {
  const nodeOf = async (level: number, index: number): Promise<Uint8Array> => {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const within = level - tileLevel * TILE_HEIGHT;
    const span = 2 ** within;
    const first = index * span;
    const tileIndex = Math.floor(first / TILE_WIDTH);
    const count = hashesAtLevel(size, tileLevel);
    const width = Math.min(TILE_WIDTH, count - tileIndex * TILE_WIDTH);
    if (width <= 0) throw new RangeError("hash beyond the tree");
    const hashes = await readTile(tileLevel, tileIndex, width);
    let row = hashes.slice(first - tileIndex * TILE_WIDTH, first - tileIndex * TILE_WIDTH + span);
    if (row.length !== span) throw new RangeError("hash beyond the tree");
    while (row.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i]!, row[i + 1]!));
      row = next;
    }
    return row[0]!;
  };
  return nodeOf;
}
