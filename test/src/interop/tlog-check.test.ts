// Interoperability with Go's reference implementation (golang.org/x/mod/sumdb/tlog and note):
// a log written by @pkiserver/log must open, hash and prove the same there.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  consistencyProof,
  encodeEntry,
  encodeEntryBundle,
  encodeSignerKey,
  encodeVerifierKey,
  generateSigner,
  HashLevels,
  HeadMap,
  historyKey,
  inclusionProof,
  type LogEntry,
  leafHash,
  readHashTile,
  signCheckpoint,
  TILE_WIDTH,
  tilePath,
  tilesOf,
  toBase64,
} from "@pkiserver/log";

const repoRoot = join(__dirname, "..", "..", "..");
const hasGo = spawnSync("go", ["version"]).status === 0;

/** A log of `size` entries (key records in a few histories, and host changes) written out as files. */
async function writeLog(dir: string, size: number): Promise<void> {
  const tree = new HashLevels();
  const heads = new HeadMap();
  const entries: Uint8Array[] = [];
  const seqs = new Map<string, { seq: number; prev: string }>();
  for (let i = 0; i < size; i++) {
    let entry: LogEntry;
    if (i % 7 === 3) {
      entry = {
        type: "host",
        instanceId: `inst${i % 3}`,
        hostPubKey: `hp${i}`,
        addresses: [`h${i}.example:3000`],
        deleted: false,
        createDate: 1_700_000_000_000 + i,
      };
    } else {
      const user = `user${i % 5}`;
      const last = seqs.get(user);
      entry = {
        type: "key",
        userId: user,
        instanceId: "inst0",
        contextId: "ctx-0001",
        userPubKey: i % 11 === 0 ? undefined : `pub${i}`,
        createDate: 1_700_000_000_000 + i,
        seq: last === undefined ? 0 : last.seq + 1,
        prev: last?.prev,
      };
    }
    const bytes = encodeEntry(entry);
    const leaf = leafHash(bytes);
    if (entry.type === "key") {
      seqs.set(entry.userId, { seq: entry.seq, prev: toBase64(leaf) });
      heads.set(historyKey(entry.userId, entry.instanceId, entry.contextId), leaf);
    }
    entries.push(bytes);
    tree.append(leaf);
  }
  for (const t of tilesOf(size)) {
    const file = join(dir, ...tilePath(t).split("/"));
    mkdirSync(dirname(file), { recursive: true });
    const data =
      t.level === "entries"
        ? encodeEntryBundle(entries.slice(t.index * TILE_WIDTH, t.index * TILE_WIDTH + t.width))
        : await readHashTile(tree.read, t);
    writeFileSync(file, data);
  }
  const signer = generateSigner("pkiserver.example/log");
  writeFileSync(join(dir, "verifier-key"), `${encodeVerifierKey(signer)}\n`);
  writeFileSync(join(dir, "signing-key"), `${encodeSignerKey(signer)}\n`);
  const checkpoint = { origin: signer.name, size, root: await tree.root(), headMapRoot: heads.root() };
  writeFileSync(join(dir, "checkpoint"), signCheckpoint(checkpoint, signer));
  const inclusion = [];
  for (const [index, at] of [
    [0, size],
    [size - 1, size],
    [255, size],
    [256, size],
    [17, 300],
    [299, 300],
    [0, 1],
  ] as const) {
    const hashes = await inclusionProof(tree.read, index, at);
    inclusion.push({ index, size: at, entry: toBase64(entries[index]!), hashes: hashes.map(toBase64) });
  }
  const consistency = [];
  for (const [from, to] of [
    [1, size],
    [256, size],
    [300, size],
    [7, 300],
    [size, size],
  ] as const) {
    const hashes = await consistencyProof(tree.read, from, to);
    consistency.push({ from, to, fromRoot: toBase64(await tree.root(from)), hashes: hashes.map(toBase64) });
  }
  writeFileSync(join(dir, "proofs.json"), JSON.stringify({ inclusion, consistency }));
}

describe("Go's sumdb/tlog and sumdb/note accept our log", {
  skip: hasGo ? false : "go is not installed: the Go interoperability check cannot run",
}, () => {
  let bin = "";
  let dir = "";
  // 256·2 + 70 entries: full and partial level-0 tiles, a partial level-1 tile, full and partial bundles.
  const size = 2 * TILE_WIDTH + 70;

  before(async () => {
    bin = execFileSync(join(repoRoot, "test", "infra", "build-tlog-check.sh"), {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
    dir = mkdtempSync(join(tmpdir(), "tlog-check-"));
    await writeLog(dir, size);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const check = (d: string) => spawnSync(bin, [d], { encoding: "utf8" });

  it("verifies the checkpoint signature, every tile and bundle, and every proof", () => {
    const r = check(dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^ok: pkiserver.example/log size ${size}, 7 inclusion and 5 consistency proofs`));
  });

  /** Copies the log, changes one byte of one file, and expects Go to refuse it with `reason`. */
  function tampered(file: string, offset: (length: number) => number, reason: RegExp): void {
    const copy = mkdtempSync(join(tmpdir(), "tlog-check-bad-"));
    try {
      execFileSync("cp", ["-r", `${dir}/.`, copy]);
      const path = join(copy, ...file.split("/"));
      const data = readFileSync(path);
      data[offset(data.length)]! ^= 0x01;
      writeFileSync(path, data);
      const r = check(copy);
      assert.equal(r.status, 1, `Go accepted a changed ${file}`);
      assert.match(r.stderr, reason);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }

  it("refuses a changed hash tile", () => tampered("tile/0/001", () => 100, /tile|hash/i));
  it("refuses a changed partial hash tile", () => tampered("tile/0/002.p/70", (n) => n - 1, /tile|hash/i));
  it("refuses a changed entry", () => tampered("tile/entries/000", (n) => n - 2, /entry 255 does not hash/));
  it("refuses a changed checkpoint", () => tampered("checkpoint", () => 30, /signature|verification/i));
  it("refuses a changed proof", () => {
    const proofs = JSON.parse(readFileSync(join(dir, "proofs.json"), "utf8"));
    const copy = mkdtempSync(join(tmpdir(), "tlog-check-bad-"));
    try {
      execFileSync("cp", ["-r", `${dir}/.`, copy]);
      const h = Buffer.from(proofs.consistency[2].hashes[1], "base64");
      h[0]! ^= 0x80;
      proofs.consistency[2].hashes[1] = h.toString("base64");
      writeFileSync(join(copy, "proofs.json"), JSON.stringify(proofs));
      const r = check(copy);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /consistency of 300 with 582/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
