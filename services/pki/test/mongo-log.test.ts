import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connectMongo, type MongoHandle } from "@pkiserver/kit";
import {
  decodeEntry,
  encodeSignerKey,
  generateSigner,
  historyKey,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  toBase64,
  verifyConsistency,
  verifyHeadMapProof,
  verifyInclusion,
} from "@pkiserver/log";
import {
  createMongoStores,
  LOG_COLLECTIONS,
  MongoTransparencyLog,
  type PkiStores,
  randomPubKey,
  withTransparencyLog,
} from "@pkiserver/pki";
import { getInfra } from "@pkiserver/test-harness";

const clock = { t: 1_700_000_000_000, now: () => clock.t };
const signer = generateSigner("mongo.example/log");

/** Every record in key_history has its leaf (its history and seq) and nothing waits in log_pending. */
async function assertAllLogged(mongo: MongoHandle): Promise<void> {
  const leaves = await mongo.db
    .collection(LOG_COLLECTIONS.leaves)
    .find({ hk: { $exists: true } }, { projection: { hk: 1, seq: 1 } })
    .toArray();
  const logged = new Set(leaves.map((l) => `${String(l.hk)}/${String(l.seq)}`));
  const records = await mongo.db.collection("key_history").find({}).toArray();
  for (const r of records) {
    const hk = toBase64(historyKey(String(r.userId), String(r.instanceId), String(r.contextId)));
    assert.ok(
      logged.has(`${hk}/${Number(r.seq) - 1}`),
      `record ${String(r.userId)} seq ${String(r.seq)} not in the log`,
    );
  }
  assert.equal(await mongo.db.collection(LOG_COLLECTIONS.pending).countDocuments({}), 0);
}

describe("transparency log on MongoDB, two replicas", () => {
  let mongo: MongoHandle;
  let raw: PkiStores;
  let a: MongoTransparencyLog;
  let b: MongoTransparencyLog;
  let viaA: PkiStores;
  let viaB: PkiStores;

  before(async () => {
    const infra = await getInfra();
    mongo = await connectMongo(infra.mongoUrl, infra.freshName("pki_log"));
    raw = await createMongoStores(mongo.db, { logIntents: true });
    await MongoTransparencyLog.ensureIndexes(mongo.db);
    a = new MongoTransparencyLog(mongo.db, signer, raw.hosts, { leaseMs: 60_000 });
    b = new MongoTransparencyLog(mongo.db, signer, raw.hosts, { leaseMs: 60_000 });
    viaA = withTransparencyLog(raw, a, clock);
    viaB = withTransparencyLog(raw, b, clock);
  });
  after(async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  });

  const ref = { userId: "user-m", instanceId: randomPubKey(), contextId: "ctx-mongo" };
  const set = (stores: PkiStores, key: string) => {
    clock.t += 10;
    return stores.keys.append(ref, () => ({ userPubKey: key }), clock);
  };

  it("one replica sequences; both publish the same checkpoint and proofs that verify", async () => {
    const host = randomPubKey();
    await viaA.hosts.create(host, `https://${host}.example`);
    await set(viaA, randomPubKey());
    await set(viaB, randomPubKey());
    await set(viaA, randomPubKey());
    await Promise.all([a.sequence(), b.sequence()]);
    await Promise.all([a.sequence(), b.sequence()]);
    const [ca, cb] = [await a.checkpoint(), await b.checkpoint()];
    assert.equal(ca.note, cb.note);
    assert.equal(ca.size, 4);
    const c = openCheckpoint(cb.note, parseVerifierKey(cb.verifierKey));
    const p = await b.keyProof(ref, clock.t);
    assert.ok(verifyInclusion(leafHash(p.entry.entry), p.entry.leafIndex, c.size, p.entry.hashes, c.root));
    const k = historyKey(ref.userId, ref.instanceId, ref.contextId);
    assert.ok(p.head && verifyHeadMapProof(k, leafHash(p.entry.entry), p.head, c.headMapRoot));
    const entries = [];
    for (let i = 0; i < 4; i++) entries.push(decodeEntry((await a.inclusionProof(i, 4)).entry));
    assert.deepEqual(
      entries.map((e) => (e.type === "key" ? e.seq : "host")),
      ["host", 0, 1, 2],
    );
  });

  it("a record written without its intent (before the log existed) is logged when its successor comes", async () => {
    const before = await a.checkpoint();
    const plain = await createMongoStores(mongo.db);
    const lost = await plain.keys.append(ref, () => ({ userPubKey: randomPubKey() }), clock);
    await set(viaB, randomPubKey());
    await a.sequence();
    const after = await b.checkpoint();
    assert.equal(after.size, before.size + 2);
    const [x, y] = [
      await b.inclusionProof(before.size, after.size),
      await b.inclusionProof(before.size + 1, after.size),
    ];
    const [ex, ey] = [decodeEntry(x.entry), decodeEntry(y.entry)];
    assert.ok(ex.type === "key" && ex.seq === lost.seq - 1 && ex.userPubKey === lost.userPubKey);
    assert.ok(ey.type === "key" && ey.seq === lost.seq && ey.prev === toBase64(leafHash(x.entry)));
    const cons = await b.consistencyProof(before.size, after.size);
    assert.ok(verifyConsistency(before.size, after.size, cons, before.root, after.root));
  });

  it("a history's newest record is logged though its writer's log never ran again", async () => {
    const before = await a.checkpoint();
    // A replica that writes and stops: nothing of its log but the record's own write.
    const gone = new MongoTransparencyLog(mongo.db, signer, raw.hosts, { leaseMs: 60_000 });
    const other = { ...ref, contextId: "ctx-writer-gone" };
    const record = await withTransparencyLog(raw, gone, clock).keys.append(
      other,
      () => ({ userPubKey: randomPubKey() }),
      clock,
    );
    await a.sequence();
    const after = await b.checkpoint();
    assert.equal(after.size, before.size + 1);
    const e = decodeEntry((await b.inclusionProof(before.size, after.size)).entry);
    assert.ok(e.type === "key" && e.contextId === other.contextId && e.userPubKey === record.userPubKey);
    await assertAllLogged(mongo);
  });

  it("a burst of 100 records on one history is logged in one round, in order, chained", async () => {
    const before = await a.checkpoint();
    const burst = { ...ref, contextId: "ctx-burst" };
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 100 }, () => viaA.keys.append(burst, () => ({ userPubKey: randomPubKey() }), clock)),
    );
    const written = Date.now() - started;
    await a.sequence();
    const after = await b.checkpoint();
    assert.equal(after.size, before.size + 100);
    let prev: string | undefined;
    for (let i = before.size; i < after.size; i++) {
      const x = await b.inclusionProof(i, after.size);
      const e = decodeEntry(x.entry);
      assert.ok(e.type === "key" && e.seq === i - before.size && e.prev === prev);
      prev = toBase64(leafHash(x.entry));
    }
    process.stdout.write(`# 100 appends on one history with the log: ${written} ms\n`);
  });

  it("stores each full tile once and serves it as stored", async () => {
    for (let i = 0; i < 256; i++) {
      const host = randomPubKey();
      await viaB.hosts.create(host, `https://${host}.example`);
    }
    await a.sequence();
    const cp = await b.checkpoint();
    assert.ok(cp.size >= 256);
    const stored = await mongo.db.collection(LOG_COLLECTIONS.tiles).find({}).toArray();
    assert.deepEqual(stored.map((d) => d._id).sort(), ["tile/0/000", "tile/entries/000"]);
    const tile = await b.tile({ level: 0, index: 0, width: 256 });
    assert.equal(tile?.length, 256 * 32);
    assert.deepEqual(tile?.subarray(0, 32), leafHash((await b.inclusionProof(0, cp.size)).entry));
  });

  it("replicas that stop hand sequencing over at once, not when the lease runs out", async () => {
    await Promise.all([a.close(), b.close()]);
    const c = new MongoTransparencyLog(mongo.db, signer, raw.hosts, { leaseMs: 60_000 });
    const before = (await c.checkpoint()).size;
    await set(withTransparencyLog(raw, c, clock), randomPubKey());
    await c.sequence();
    assert.equal((await c.checkpoint()).size, before + 1);
    await c.close();
  });
});

/**
 * A pki process killed (SIGKILL) at each step of logging a change: after the restart the log
 * has every change exactly once, its checkpoints are consistent, and no intent is left.
 */
describe("transparency log on MongoDB, a process killed between the steps", () => {
  let mongo: MongoHandle;
  let raw: PkiStores;
  let mongoUrl: string;
  let dbName: string;
  const child = join(__dirname, "log-crash-child.js");

  before(async () => {
    const infra = await getInfra();
    mongoUrl = infra.mongoUrl;
    dbName = infra.freshName("pki_log_crash");
    mongo = await connectMongo(mongoUrl, dbName);
    raw = await createMongoStores(mongo.db, { logIntents: true });
    await MongoTransparencyLog.ensureIndexes(mongo.db);
  });
  after(async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  });

  /** Runs the child until it kills itself at `point`. */
  function killedAt(point: string, action: string, userId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [child, mongoUrl, dbName, point, action, encodeSignerKey(signer), userId], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      p.stdout.on("data", (d: Buffer) => (out += d));
      p.stderr.on("data", (d: Buffer) => (out += d));
      p.on("error", reject);
      p.on("exit", (_code, sig) =>
        sig === "SIGKILL" ? resolve() : reject(new Error(`child was not killed at ${point}: ${out}`)),
      );
    });
  }

  /** What the log holds after a restart: its entries, each host's and history's count. */
  async function restart(): Promise<{ log: MongoTransparencyLog; entries: ReturnType<typeof decodeEntry>[] }> {
    // The killed process's lease (300 ms, log-crash-child.ts) runs out first.
    await new Promise((r) => setTimeout(r, 400));
    const log = new MongoTransparencyLog(mongo.db, signer, raw.hosts, { leaseMs: 60_000, intentTimeoutMs: 0 });
    await log.sequence();
    const cp = await log.checkpoint();
    const entries = [];
    for (let i = 0; i < cp.size; i++) entries.push(decodeEntry((await log.inclusionProof(i, cp.size)).entry));
    await assertAllLogged(mongo);
    return { log, entries };
  }

  it("killed between a host change and its entry: the change is logged at restart", async () => {
    await killedAt("host-changed", "host", "u-host");
    const hosts = await raw.hosts.list();
    assert.equal(hosts.length, 1);
    const { log, entries } = await restart();
    assert.deepEqual(entries, [
      {
        type: "host",
        instanceId: hosts[0]!.instanceId,
        hostPubKey: hosts[0]!.hostPubKey,
        addresses: [...hosts[0]!.addresses],
        deleted: false,
        createDate: (entries[0] as { createDate: number }).createDate,
      },
    ]);
    await log.close();
  });

  for (const point of ["record-written", "leaves-written", "intents-cleared"] as const) {
    it(`killed mid-sequencing (${point}): nothing lost or logged twice, checkpoints consistent`, async () => {
      const first = await restart();
      const before = await first.log.checkpoint();
      await first.log.close();
      await killedAt(point, "key+sequence", `u-${point}`);
      const { log, entries } = await restart();
      const after = await log.checkpoint();
      // The child's host change and key record, once each, after what was there.
      assert.equal(after.size, before.size + 2);
      const added = entries.slice(before.size);
      assert.deepEqual(
        added.map((e) => e.type),
        ["host", "key"],
      );
      assert.ok(added[1]?.type === "key" && added[1].userId === `u-${point}` && added[1].seq === 0);
      if (before.size > 0) {
        const cons = await log.consistencyProof(before.size, after.size);
        assert.ok(verifyConsistency(before.size, after.size, cons, before.root, after.root));
      }
      // A new change after the restart goes on from there.
      await withTransparencyLog(raw, log, clock).hosts.create(randomPubKey(), `https://${point}.example`);
      await log.sequence();
      assert.equal((await log.checkpoint()).size, after.size + 1);
      await log.close();
    });
  }
});
