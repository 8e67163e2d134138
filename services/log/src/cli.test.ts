import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { auditLog, type LogFetcher } from "./audit.js";
import { toBase64 } from "./bytes.js";
import { signCheckpoint } from "./checkpoint.js";
import { main } from "./cli.js";
import { encodeEntry, historyKey, type LogEntry } from "./entry.js";
import { leafHash } from "./hash.js";
import { HeadMap } from "./headmap.js";
import { HashLevels, inclusionProof } from "./merkle.js";
import { encodeVerifierKey, generateSigner } from "./note.js";
import { encodeEntryBundle, readHashTile, TILE_WIDTH, tilePath, tilesOf } from "./tiles.js";
import { VerificationError } from "./verify.js";

const signer = generateSigner("cli.example/log");
const VKEY = encodeVerifierKey(signer);
const T0 = 1_700_000_000_000;

/** A log of `n` entries (three key histories and host changes) served as files. */
async function buildLog(n: number, opts: { fork?: number; badPrev?: number } = {}) {
  const tree = new HashLevels();
  const heads = new HeadMap();
  const entries: Uint8Array[] = [];
  const chains = new Map<string, { seq: number; leaf: Uint8Array }>();
  for (let i = 0; i < n; i++) {
    let e: LogEntry;
    if (i % 4 === 3) {
      e = {
        type: "host",
        instanceId: "inst",
        hostPubKey: `h${i}`,
        addresses: [`a${i}`],
        deleted: false,
        createDate: T0 + i,
      };
    } else {
      const userId = `user${i % 3}`;
      const last = chains.get(userId);
      e = {
        type: "key",
        userId,
        instanceId: "inst",
        contextId: "ctx",
        userPubKey: i === opts.fork ? "forked" : `pub${i}`,
        createDate: T0 + i,
        seq: last ? last.seq + 1 : 0,
        prev: last ? (i === opts.badPrev ? toBase64(new Uint8Array(32)) : toBase64(last.leaf)) : undefined,
      };
    }
    const bytes = encodeEntry(e);
    const leaf = leafHash(bytes);
    if (e.type === "key") {
      chains.set(e.userId, { seq: e.seq, leaf });
      heads.set(historyKey(e.userId, e.instanceId, e.contextId), leaf);
    }
    entries.push(bytes);
    tree.append(leaf);
  }
  const files = new Map<string, Uint8Array>();
  for (const t of tilesOf(n)) {
    files.set(
      tilePath(t),
      t.level === "entries"
        ? encodeEntryBundle(entries.slice(t.index * TILE_WIDTH, t.index * TILE_WIDTH + t.width))
        : await readHashTile(tree.read, t),
    );
  }
  const c = { origin: signer.name, size: n, root: await tree.root(), headMapRoot: heads.root() };
  files.set("checkpoint", new TextEncoder().encode(signCheckpoint(c, signer)));
  const fetcher: LogFetcher = async (p) => files.get(p);
  return { tree, heads, entries, files, fetcher };
}

describe("audit", () => {
  it("replays a log from its tiles and remembers it; a grown log extends it", async () => {
    const first = await buildLog(300);
    const r1 = await auditLog(first.fetcher, VKEY);
    assert.equal(r1.checkpoint.size, 300);
    const state = { origin: signer.name, size: 300, root: toBase64(r1.checkpoint.root) };
    const grown = await buildLog(520);
    assert.equal((await auditLog(grown.fetcher, VKEY, state)).checkpoint.size, 520);
  });

  it("catches a forked history, a shrunk log, a changed tile and a broken prev chain", async () => {
    const honest = await buildLog(300);
    const state = { origin: signer.name, size: 300, root: toBase64(await honest.tree.root()) };
    await assert.rejects(auditLog((await buildLog(400, { fork: 5 })).fetcher, VKEY, state), /forked history/);
    await assert.rejects(auditLog((await buildLog(200)).fetcher, VKEY, state), /shrank/);
    await assert.rejects(auditLog((await buildLog(300, { badPrev: 9 })).fetcher, VKEY), /prev/);
    const changed = await buildLog(300);
    const tile = new Uint8Array(changed.files.get("tile/0/000")!);
    tile[40]! ^= 1;
    changed.files.set("tile/0/000", tile);
    await assert.rejects(auditLog(changed.fetcher, VKEY), /tile\/0\/000 differs/);
    const missing = await buildLog(300);
    missing.files.delete("tile/entries/001.p/44");
    await assert.rejects(auditLog(missing.fetcher, VKEY), VerificationError);
    await assert.rejects(auditLog(honest.fetcher, encodeVerifierKey(generateSigner("cli.example/log"))), /checkpoint/);
  });
});

describe("pkiserver-log command line", () => {
  let server: Server;
  let url = "";
  let files = new Map<string, Uint8Array>();
  let dir = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "pkiserver-log-"));
    server = createServer((req, res) => {
      if (req.headers.authorization !== "Bearer t0ken") return void res.writeHead(401).end();
      const body = files.get((req.url ?? "").replace(/^\/log\//, ""));
      if (body === undefined) return void res.writeHead(404).end();
      res.writeHead(200).end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (args: string[], env: NodeJS.ProcessEnv = { PMX_LOG_AUTHORIZATION: "Bearer t0ken" }) => {
    const lines: string[] = [];
    const code = await main(args, env, (l) => lines.push(l));
    return { code, out: lines.join("\n") };
  };

  it("audit keeps the last verified checkpoint and fails the next run on a fork", async () => {
    const state = join(dir, "state.json");
    files = (await buildLog(100)).files;
    const args = ["audit", "--key", VKEY, "--url", url, "--state", state];
    assert.deepEqual(await run(args), { code: 0, out: "OK: cli.example/log size 100, first run" });
    assert.equal(JSON.parse(readFileSync(state, "utf8")).size, 100);
    files = (await buildLog(150)).files;
    assert.deepEqual(await run(args), { code: 0, out: "OK: cli.example/log size 150, extends size 100" });
    files = (await buildLog(200, { fork: 120 })).files;
    const forked = await run(args);
    assert.equal(forked.code, 1);
    assert.match(forked.out, /^FAIL: .*forked history/);
    // The state still names the last checkpoint that verified.
    assert.equal(JSON.parse(readFileSync(state, "utf8")).size, 150);
    assert.equal((await run(args, {})).code, 2);
  });

  it("verify-key checks a getKeyProof answer against the pinned key", async () => {
    const log = await buildLog(10);
    // user1's records are entries 1 and 4; 4 is its newest.
    const size = 10;
    const proof = async (i: number) => ({
      leafIndex: i,
      entry: toBase64(log.entries[i]!),
      hashes: (await inclusionProof(log.tree.read, i, size)).map(toBase64),
    });
    const checkpoint = new TextDecoder().decode(log.files.get("checkpoint"));
    const record = { userId: "user1", instanceId: "inst", contextId: "ctx" };
    const old = {
      checkpoint,
      record: { ...record, userPubKey: "pub1", createDate: T0 + 1 },
      entry: await proof(1),
      next: await proof(4),
    };
    const newest = {
      checkpoint,
      record: { ...record, userPubKey: "pub4", createDate: T0 + 4 },
      entry: await proof(4),
      head: log.heads.prove(historyKey("user1", "inst", "ctx")),
    };
    const file = join(dir, "answer.json");
    const args = (date: number) => [
      "verify-key",
      "--key",
      VKEY,
      "--user",
      "user1",
      "--instance",
      "inst",
      "--context",
      "ctx",
      "--date",
      String(date),
      file,
    ];
    writeFileSync(file, JSON.stringify({ jsonrpc: "2.0", id: 1, result: old }));
    assert.deepEqual(await run(args(T0 + 2)), {
      code: 0,
      out: "OK: pub1 in force at 1700000000002 (record 0, checkpoint cli.example/log size 10)",
    });
    assert.equal((await run([...args(T0 + 2), "--pubkey", "pub4"])).code, 1);
    assert.equal((await run(args(T0 + 4))).code, 1);
    writeFileSync(file, JSON.stringify(newest));
    assert.equal((await run(args(T0 + 100))).code, 0);
    writeFileSync(file, JSON.stringify({ ...newest, head: undefined }));
    assert.match((await run(args(T0 + 100))).out, /^FAIL: neither next nor head/);
    assert.equal((await run(["verify-key", "--key", VKEY])).code, 2);
    // A context id may begin with "-": it is checked (and here is not the proof's), not taken for an option.
    const dashed = args(T0 + 2).map((a) => (a === "ctx" ? "-ctx" : a));
    const r = await run(dashed);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /^FAIL: /);
  });
});
