import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { equalBytes, fromBase64, toBase64 } from "./bytes.js";
import { type Checkpoint, openCheckpoint } from "./checkpoint.js";
import { decodeEntry, historyKey } from "./entry.js";
import { leafHash } from "./hash.js";
import { HeadMap } from "./headmap.js";
import { HashLevels } from "./merkle.js";
import { parseVerifierKey } from "./note.js";
import { decodeEntryBundle, readHashTile, TILE_WIDTH, tilePath, tilesOf } from "./tiles.js";
import { VerificationError } from "./verify.js";

/** Reads one file of the log's HTTP layout (`checkpoint`, `tile/...`); undefined when absent. */
export type LogFetcher = (path: string) => Promise<Uint8Array | undefined>;

/** What the auditor remembers between runs: the last checkpoint it verified. */
export interface AuditState {
  origin: string;
  size: number;
  root: string;
}

export interface AuditResult {
  checkpoint: Checkpoint;
  /** The previous run's checkpoint, when there was one. */
  previous: AuditState | undefined;
}

function fail(message: string): never {
  throw new VerificationError(message);
}

/**
 * Replays the whole log from its tiles and checks the newest checkpoint: its signature by the
 * pinned key, its root (from the entry bundles), every hash tile, its head-map root (from the
 * key records), each history's seq and prev chain, and that it extends `previous` (the tree of
 * the previous run's size has the previous root), so a rewritten or forked history is caught.
 */
export async function auditLog(
  fetchFile: LogFetcher,
  verifierKey: string,
  previous?: AuditState,
): Promise<AuditResult> {
  const verifier = parseVerifierKey(verifierKey);
  const note = await fetchFile("checkpoint");
  if (note === undefined) fail("no checkpoint");
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(new TextDecoder().decode(note), verifier);
  } catch (err) {
    fail(`checkpoint: ${(err as Error).message}`);
  }
  const size = checkpoint.size;
  if (previous !== undefined) {
    if (previous.origin !== checkpoint.origin) fail("checkpoint of another log than the previous run's");
    if (size < previous.size) fail(`the log shrank from ${previous.size} to ${size} entries`);
  }
  const tree = new HashLevels();
  const heads = new HeadMap();
  const chains = new Map<string, { seq: number; leaf: Uint8Array }>();
  for (const t of tilesOf(size)) {
    if (t.level !== "entries") continue;
    const bundle = await fetchFile(tilePath(t));
    if (bundle === undefined) fail(`missing ${tilePath(t)}`);
    const entries = decodeEntryBundle(bundle);
    if (entries.length !== t.width) fail(`${tilePath(t)} holds ${entries.length} entries, not ${t.width}`);
    for (const [i, bytes] of entries.entries()) {
      const index = t.index * TILE_WIDTH + i;
      let e: ReturnType<typeof decodeEntry>;
      try {
        e = decodeEntry(bytes);
      } catch {
        fail(`entry ${index} is not a canonical log entry`);
      }
      const leaf = leafHash(bytes);
      if (e.type === "key") {
        const key = historyKey(e.userId, e.instanceId, e.contextId);
        const hk = toBase64(key);
        const last = chains.get(hk);
        if (e.seq !== (last === undefined ? 0 : last.seq + 1)) fail(`entry ${index}: seq ${e.seq} breaks its history`);
        if (last !== undefined && e.prev !== toBase64(last.leaf))
          fail(`entry ${index}: prev is not the history's previous record`);
        chains.set(hk, { seq: e.seq, leaf });
        heads.set(key, leaf);
      }
      tree.append(leaf);
    }
  }
  if (tree.size !== size) fail(`the bundles hold ${tree.size} entries, the checkpoint says ${size}`);
  if (!equalBytes(await tree.root(), checkpoint.root)) fail("the entries do not hash to the checkpoint's root");
  if (!equalBytes(heads.root(), checkpoint.headMapRoot))
    fail("the key records do not give the checkpoint's head-map root");
  for (const t of tilesOf(size)) {
    if (t.level === "entries") continue;
    const served = await fetchFile(tilePath(t));
    if (served === undefined) fail(`missing ${tilePath(t)}`);
    if (!equalBytes(served, await readHashTile(tree.read, t))) fail(`${tilePath(t)} differs from the entries' hashes`);
  }
  if (previous !== undefined && previous.size > 0) {
    if (!equalBytes(await tree.root(previous.size), fromBase64(previous.root))) {
      fail(`the log is not an extension of the checkpoint of size ${previous.size} verified before (forked history)`);
    }
  }
  return { checkpoint, previous };
}

export function readAuditState(file: string): AuditState | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const s = JSON.parse(text) as AuditState;
  if (typeof s.origin !== "string" || !Number.isSafeInteger(s.size) || typeof s.root !== "string") {
    throw new Error(`${file} is not an audit state`);
  }
  return s;
}

/** Written whole, then renamed: an interrupted run never leaves half a state behind. */
export function writeAuditState(file: string, c: Checkpoint): void {
  const state: AuditState = { origin: c.origin, size: c.size, root: toBase64(c.root) };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Fetches the log's files from a server's `/log/` prefix with the given Authorization header. */
export function httpFetcher(baseUrl: string, authorization?: string): LogFetcher {
  const base = baseUrl.replace(/\/+$/, "");
  return async (path) => {
    const res = await fetch(`${base}/log/${path}`, { headers: authorization ? { authorization } : {} });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET /log/${path}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
}
