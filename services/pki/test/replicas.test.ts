import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AppError, connectMongo, type ErrorCode, MemoryEventBus, type MongoHandle } from "@pkiserver/kit";
import { randomPubKey } from "@pkiserver/pki";
import type { pkiV1 } from "@pkiserver/proto";
import { getInfra } from "@pkiserver/test-harness";
import { testTokens } from "@pkiserver/testing";
import { servePki } from "./served-pki";

type PkiClient = Awaited<ReturnType<typeof servePki>>["pki"];

interface Replica {
  readonly mongo: MongoHandle;
  readonly bus: MemoryEventBus;
  readonly served: Awaited<ReturnType<typeof servePki>>;
  readonly pki: PkiClient;
}

const HOUR = 3_600_000;

const codeOf = (r: PromiseSettledResult<unknown>): ErrorCode | "ok" => {
  if (r.status === "fulfilled") return "ok";
  assert.ok(r.reason instanceof AppError, `expected an AppError, got ${String(r.reason)}`);
  return r.reason.code;
};

/**
 * Two service processes' worth of state on one database: each replica has its
 * own MongoDB connection, its own bus and its own clock, as two deployed
 * replicas would. Replica B's clock runs an hour behind.
 */
describe("two pki replicas on one MongoDB database", () => {
  const replicas: Replica[] = [];
  let a: PkiClient;
  let b: PkiClient;

  before(async () => {
    const infra = await getInfra();
    const dbName = infra.freshName("pki_replicas");
    const offsets = [0, -HOUR];
    // Both start at once on an empty database: index creation must not trip over itself.
    const access = testTokens();
    const started = await Promise.all(
      offsets.map(async (offset) => {
        const mongo = await connectMongo(infra.mongoUrl, dbName);
        const bus = new MemoryEventBus();
        const served = await servePki({
          name: "pki-replica",
          bus,
          mongo,
          access,
          app: { clock: { now: () => Date.now() + offset } },
        });
        return { mongo, bus, served, pki: served.pki };
      }),
    );
    replicas.push(...started);
    a = (replicas[0] as Replica).pki;
    b = (replicas[1] as Replica).pki;
  });

  after(async () => {
    for (const r of replicas) {
      await r.served.close();
      await r.bus.close();
    }
    await replicas[0]?.mongo.db.dropDatabase();
    for (const r of replicas) await r.mongo.close();
  });

  /** Checks what every history must be, whoever wrote it, and returns it oldest first. */
  async function checkHistory(ref: pkiV1.KeyRef): Promise<pkiV1.KeyRecord[]> {
    const [fromA, fromB] = await Promise.all([a.getKeyHistory({ ref }), b.getKeyHistory({ ref })]);
    assert.deepEqual(fromA.records, fromB.records);
    const oldestFirst = [...fromA.records].reverse();
    for (let i = 0; i < oldestFirst.length; i++) {
      const rec = oldestFirst[i] as pkiV1.KeyRecord;
      const prev = oldestFirst[i - 1];
      if (prev !== undefined) assert.ok(rec.createDate > prev.createDate, `createDate not increasing at ${i}`);
      if (rec.userPubKey === undefined) {
        assert.ok(prev?.userPubKey !== undefined, `deletion record ${i} follows no key`);
      } else {
        assert.notEqual(rec.userPubKey, prev?.userPubKey, `record ${i} repeats the current key`);
      }
      // The record is the one in force at its own date, on either replica.
      assert.deepEqual((await a.getKeyAt({ ref, date: rec.createDate })).record, rec);
      assert.deepEqual((await b.getKeyAt({ ref, date: rec.createDate })).record, rec);
    }
    const newest = oldestFirst.at(-1);
    if (newest !== undefined) assert.deepEqual((await b.getCurrentKey({ ref })).record, newest);
    return oldestFirst;
  }

  it("appends from both replicas interleave into one strictly increasing history", async () => {
    const ref = { userId: "racer", instanceId: randomPubKey(), contextId: "ctx-interleave" };
    const keys = Array.from({ length: 30 }, () => randomPubKey());
    const results = await Promise.allSettled(
      keys.map((userPubKey, i) => (i % 2 === 0 ? a : b).setKey({ ref, userPubKey })),
    );
    assert.deepEqual(
      results.map(codeOf),
      keys.map(() => "ok"),
    );
    const history = await checkHistory(ref);
    assert.equal(history.length, keys.length);
    assert.deepEqual(new Set(history.map((r) => r.userPubKey)), new Set(keys));
  });

  it("a replica whose clock is behind still writes after the newest record", async () => {
    const ref = { userId: "racer", instanceId: randomPubKey(), contextId: "ctx-skew" };
    const first = (await a.setKey({ ref, userPubKey: randomPubKey() })).record;
    const second = (await b.setKey({ ref, userPubKey: randomPubKey() })).record;
    assert.ok(first && second);
    assert.ok(second.createDate > first.createDate);
    const deletion = (await b.deleteKey({ ref })).record;
    assert.ok(deletion && deletion.createDate > second.createDate);
    assert.deepEqual(
      (await checkHistory(ref)).map((r) => r.createDate),
      [first.createDate, second.createDate, deletion.createDate],
    );
  });

  it("setKey and deleteKey racing on both replicas judge the record they follow", async () => {
    const ref = { userId: "racer", instanceId: randomPubKey(), contextId: "ctx-set-delete" };
    const k1 = randomPubKey();
    const k2 = randomPubKey();
    let written = 0;
    for (let round = 0; round < 15; round++) {
      const calls = [
        a.setKey({ ref, userPubKey: k1 }),
        b.deleteKey({ ref }),
        a.deleteKey({ ref }),
        b.setKey({ ref, userPubKey: k1 }),
        b.setKey({ ref, userPubKey: k2 }),
        a.deleteKey({ ref }),
      ];
      const codes = (await Promise.allSettled(calls)).map(codeOf);
      for (const c of codes) assert.ok(["ok", "pki.key_already_exists", "pki.no_key"].includes(c), c);
      written += codes.filter((c) => c === "ok").length;
    }
    const history = await checkHistory(ref);
    // Every call that succeeded wrote exactly one record, and nothing else did.
    assert.equal(history.length, written);
  });

  it("100 concurrent setKey and deleteKey on one history through both replicas: none fails for contention", async () => {
    const started = Date.now();
    const ref = { userId: "racer", instanceId: randomPubKey(), contextId: "ctx-burst" };
    await a.setKey({ ref, userPubKey: randomPubKey() });
    const keys = Array.from({ length: 100 }, () => randomPubKey());
    const results = await Promise.allSettled(
      keys.map((userPubKey, i) => {
        const replica = i % 2 === 0 ? a : b;
        // Within the calls' default 10 s deadline: a record carries its log intent in its own
        // write, so the log adds no write per append.
        return i % 5 === 4 ? replica.deleteKey({ ref }) : replica.setKey({ ref, userPubKey });
      }),
    );
    const calls = Date.now() - started;
    const codes = results.map(codeOf);
    keys.forEach((_, i) => {
      // A setKey of a fresh key is never refused; a deleteKey only when a deletion came just before it.
      assert.ok(
        i % 5 === 4 ? ["ok", "pki.no_key"].includes(codes[i] as string) : codes[i] === "ok",
        `call ${i}: ${codes[i]} ${results[i]?.status === "rejected" ? ((results[i] as PromiseRejectedResult).reason as AppError).internal : ""}`,
      );
    });
    const history = await checkHistory(ref);
    // Every call that succeeded wrote exactly one record, in a strict sequence (checked above).
    assert.equal(history.length, 1 + codes.filter((c) => c === "ok").length);
    process.stdout.write(`# burst of 100: calls ${calls} ms, checks ${Date.now() - started - calls} ms\n`);
  });

  it("setHost on one replica and addHostUrl on the other, racing for one URL: one gets it", async () => {
    for (let round = 0; round < 10; round++) {
      const url = `race-${round}-${randomPubKey()}.example`;
      const existing = randomPubKey();
      await b.setHost({ hostPubKey: existing, hostUrl: `${existing}.example` });
      const fresh = randomPubKey();
      const [set, add] = await Promise.allSettled([
        a.setHost({ hostPubKey: fresh, hostUrl: url }),
        b.addHostUrl({ instanceId: existing, hostUrl: url }),
      ]);
      const codes = [codeOf(set), codeOf(add)].sort();
      assert.deepEqual(codes, ["ok", "pki.host_url_reserved"]);
      const owner = set.status === "fulfilled" ? fresh : existing;
      for (const r of [a, b]) {
        assert.equal((await r.getHost({ hostUrl: url })).host?.instanceId, owner);
        const holders = (await r.listHosts({})).hosts.filter((h) => h.addresses.includes(url));
        assert.deepEqual(
          holders.map((h) => h.instanceId),
          [owner],
        );
      }
      // The refused registration is not left behind.
      if (owner === existing) {
        await assert.rejects(
          a.getHost({ instanceId: fresh }),
          (err: unknown) => codeOf({ status: "rejected", reason: err }) === "pki.host_not_found_by_filter",
        );
      }
    }
  });

  it("a URL removed on one replica is claimed by exactly one of two hosts racing for it", async () => {
    const holder = randomPubKey();
    const url = `moving-${randomPubKey()}.example`;
    await a.setHost({ hostPubKey: holder, hostUrl: url });
    const x = randomPubKey();
    const y = randomPubKey();
    await a.setHost({ hostPubKey: x, hostUrl: `${x}.example` });
    await b.setHost({ hostPubKey: y, hostUrl: `${y}.example` });
    await b.removeHostUrl({ instanceId: holder, hostUrl: url });
    const results = await Promise.allSettled([
      a.addHostUrl({ instanceId: x, hostUrl: url }),
      b.addHostUrl({ instanceId: y, hostUrl: url }),
      a.addHostUrl({ instanceId: holder, hostUrl: url }),
    ]);
    const codes = results.map(codeOf);
    assert.equal(codes.filter((c) => c === "ok").length, 1);
    assert.equal(codes.filter((c) => c === "pki.host_url_reserved").length, 2);
    const owner = [x, y, holder][codes.indexOf("ok")];
    for (const r of [a, b]) {
      assert.equal((await r.getHost({ hostUrl: url })).host?.instanceId, owner);
      for (const id of [x, y, holder]) {
        assert.deepEqual(await r.verifyHostById({ instanceId: id, hostUrl: url }), { valid: id === owner });
      }
    }
  });

  it("a host deleted on one replica frees its URLs and keeps its key histories for the other", async () => {
    const host = randomPubKey();
    const url = `deleted-${host}.example`;
    await a.setHost({ hostPubKey: host, hostUrl: url });
    const ref = { userId: "resident", instanceId: host, contextId: "ctx-deleted-host" };
    const set = await a.setKey({ ref, userPubKey: randomPubKey() });
    await b.deleteHost({ instanceId: host });
    assert.deepEqual(await a.verifyHostByPub({ hostPubKey: host, hostUrl: url }), { valid: false });
    const other = randomPubKey();
    await a.setHost({ hostPubKey: other, hostUrl: url });
    assert.equal((await b.getHost({ hostUrl: url })).host?.instanceId, other);
    // Registering the deleted key again starts without its old URLs.
    await b.setHost({ hostPubKey: host, hostUrl: `again-${host}.example` });
    assert.deepEqual((await a.getHost({ instanceId: host })).host?.addresses, [`again-${host}.example`]);
    assert.deepEqual((await b.getKeyHistory({ ref })).records, [set.record]);
  });
});
