import { randomPubKey } from "@pkiserver/contract";
import { connectMongo } from "@pkiserver/kit";
import { generateSigner, HashLevels, HeadMap, leafHash, sha256, utf8 } from "@pkiserver/log";
import {
  createMemoryStores,
  createMongoStores,
  MemoryTransparencyLog,
  MongoTransparencyLog,
  type PkiStores,
  withTransparencyLog,
} from "@pkiserver/pki";
import { HOST_KEYS } from "../support/keys";
import type { Fixture } from "./fixtures";
import type { LoadRequest } from "./load";
import { int, ms, pct, times } from "./report";
import { measureRow, type RowContext } from "./rows";
import { rpc } from "./rpc";

/** What the transparency log costs and how it scales (issue 11's goals, marked "log" in the summary). */

const clock = { now: () => Date.now() };
/** Checkpoints are signed every second, as PMX_LOG_CHECKPOINT_INTERVAL's default. */
const INTERVAL_MS = 1000;
const WRITERS = 50;
const HISTORIES = 256;

/**
 * pki/getKeyProof against pki/getKeyAt through the embedded server, the same questions (the
 * history of the reads' fixture), 50 connections each.
 */
export async function keyProofRows(ctx: RowContext, fx: Fixture): Promise<void> {
  const { url } = fx.sys;
  const proofBodies = fx.getKeyAtBodies.map((b) => b.replace('"pki/getKeyAt"', '"pki/getKeyProof"'));
  // The fixture's records must be in a checkpoint first (one is signed within 2 s).
  const first = JSON.parse(proofBodies[proofBodies.length - 1] as string) as { params: object };
  for (let i = 0; ; i++) {
    try {
      await rpc(url, "pki/getKeyProof", first.params, fx.auth);
      break;
    } catch (err) {
      if (i >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const reads = (bodies: readonly string[]): LoadRequest[] => bodies.map((body) => ({ body, headers: fx.auth }));
  const at = await measureRow(ctx, "embedded: pki/getKeyAt (Bearer)", url, reads(fx.getKeyAtBodies));
  const proof = await measureRow(ctx, "embedded: pki/getKeyProof (Bearer)", url, reads(proofBodies));
  const ratio = at.rps > 0 ? proof.rps / at.rps : 0;
  ctx.report.line(`      getKeyProof vs getKeyAt: ${pct(ratio)} of its req/s`);
  ctx.report.goal({
    goal: "log",
    what: "pki/getKeyProof: req/s vs pki/getKeyAt",
    figure: pct(ratio),
    target: ">= 50 %",
    holds: at.rps > 0 ? ratio >= 0.5 : undefined,
  });
}

/**
 * pkiAdmin/setKey through the embedded server with the log against the same server without it
 * (PMX_TEST_LOG_OFF), alternately, twice each: the best of each.
 */
export async function setKeyApiRows(ctx: RowContext, logged: Fixture, bare: Fixture): Promise<void> {
  // One maker per server for every run: each write then replaces its history's key with another.
  const requests = (fx: Fixture): LoadRequest[] => [{ make: fx.setKeyMaker(), headers: fx.auth }];
  const [onLogged, onBare] = [requests(logged), requests(bare)];
  const row = (fx: Fixture, label: string) =>
    measureRow(ctx, label, fx.sys.url, fx === logged ? onLogged : onBare, { vsEcho: false });
  let withLog = 0;
  let without = 0;
  for (let round = 0; round < 2; round++) {
    without = Math.max(without, (await row(bare, "embedded: pkiAdmin/setKey without the log")).rps);
    withLog = Math.max(withLog, (await row(logged, "embedded: pkiAdmin/setKey with the log")).rps);
  }
  const ratio = without > 0 ? withLog / without : 0;
  ctx.report.line(`      setKey with the log vs without: ${pct(ratio)} of its req/s (best of 2 each)`);
  ctx.report.goal({
    goal: "log",
    what: "pkiAdmin/setKey with the log vs without, embedded (memory)",
    figure: pct(ratio),
    target: ">= 50 %",
    holds: without > 0 ? ratio >= 0.5 : undefined,
  });
}

/**
 * Appends through the stores from 50 writers over 256 histories for `seconds`, then `drain`s
 * (sequences what is left): appends per second over both. The writers yield to the event loop
 * every few appends, as requests arriving on sockets do, so that the sequencer's timer runs
 * among them: the log's whole cost, on the request path and in the sequencer, is in the time.
 */
async function appendRate(
  stores: PkiStores,
  tag: string,
  seconds: number,
  drain: () => Promise<unknown> = async () => {},
): Promise<number> {
  const pool = Array.from({ length: 64 }, () => randomPubKey());
  const refs = Array.from({ length: HISTORIES }, (_, i) => ({
    userId: `bench-log-${tag}-${i}`,
    instanceId: HOST_KEYS[0] as string,
    contextId: "ctx-log",
  }));
  let started = 0;
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (performance.now() < end) {
        const i = started++;
        await stores.keys.append(refs[i % HISTORIES]!, () => ({ userPubKey: pool[i % pool.length] }), clock);
        done++;
        if (i % YIELD_EVERY === 0) await new Promise(setImmediate);
      }
    }),
  );
  await drain();
  return done / ((performance.now() - t0) / 1000);
}

/** Appends between two turns of the event loop, over all writers. */
const YIELD_EVERY = 64;

/** Sequences until nothing is left to integrate. */
async function drainLog(log: { sequence(): Promise<unknown> }): Promise<void> {
  while ((await log.sequence()) !== undefined) {}
}

/** A sequencer on its own timer, as pki runs it. */
function sequencing(log: { sequence(): Promise<unknown> }): () => void {
  const timer = setInterval(() => void log.sequence().catch(() => undefined), INTERVAL_MS);
  return () => clearInterval(timer);
}

/**
 * setKey's store write with the log against without it, in this process (the log's whole cost
 * on the write path, nothing else around it): each measured twice, alternately, best of two.
 */
async function setKeyRows(ctx: RowContext, storage: "memory" | "FerretDB", mongoUrl: string | undefined) {
  const r = ctx.report;
  const seconds = ctx.opts.duration;
  const best = { without: 0, with: 0 };
  for (let round = 0; round < 2; round++) {
    for (const withLog of [false, true]) {
      const tag = `${storage}-${round}-${withLog ? "log" : "bare"}`;
      let rate: number;
      if (mongoUrl === undefined) {
        const raw = createMemoryStores();
        const log = new MemoryTransparencyLog(generateSigner("bench.example/log"));
        const stop = withLog ? sequencing(log) : () => {};
        const drain = async () => {
          stop();
          if (withLog) await drainLog(log);
        };
        rate = await appendRate(withLog ? withTransparencyLog(raw, log, clock) : raw, tag, seconds, drain);
      } else {
        const mongo = await connectMongo(mongoUrl, `bench_log_${tag.replace(/-/g, "_")}_${Date.now()}`);
        try {
          const raw = await createMongoStores(mongo.db, { logIntents: withLog });
          let drain = async () => {};
          let stores = raw;
          if (withLog) {
            await MongoTransparencyLog.ensureIndexes(mongo.db);
            const log = new MongoTransparencyLog(mongo.db, generateSigner("bench.example/log"), raw.hosts, {
              leaseMs: 3 * INTERVAL_MS,
            });
            stores = withTransparencyLog(raw, log, clock);
            const stop = sequencing(log);
            drain = async () => {
              stop();
              await drainLog(log);
            };
          }
          rate = await appendRate(stores, tag, seconds, drain);
        } finally {
          await mongo.db.dropDatabase().catch(() => undefined);
          await mongo.close();
        }
      }
      if (withLog) best.with = Math.max(best.with, rate);
      else best.without = Math.max(best.without, rate);
    }
  }
  const ratio = best.without > 0 ? best.with / best.without : 0;
  r.line(
    `  setKey's write, ${storage}: ${int(best.without)}/s without the log, ${int(best.with)}/s with it ` +
      `(${WRITERS} writers, ${HISTORIES} histories, best of 2 x ${seconds} s, with it until all are sequenced): ${pct(ratio)}`,
  );
  r.goal({
    goal: "log",
    what: `setKey with the log vs without, ${storage}`,
    figure: pct(ratio),
    target: ">= 50 %",
    holds: best.without > 0 ? ratio >= 0.5 : undefined,
  });
}

/**
 * 1,000 writes/s in memory for the row's duration, a checkpoint signed every second: how long
 * after its reply each write is in a signed checkpoint.
 */
async function checkpointDelayRow(ctx: RowContext): Promise<void> {
  const seconds = Math.max(3, ctx.opts.duration);
  const raw = createMemoryStores();
  const log = new MemoryTransparencyLog(generateSigner("bench.example/log"));
  const stores = withTransparencyLog(raw, log, clock);
  const pool = Array.from({ length: 64 }, () => randomPubKey());
  // Reply time of the k-th write the log took; the memory log appends in reply order.
  const replied: number[] = [];
  const covered: number[] = [];
  const signer = setInterval(() => {
    void log.sequence().then(async () => {
      const size = (await log.checkpoint()).size;
      const now = performance.now();
      while (covered.length < size && covered.length < replied.length) covered.push(now - replied[covered.length]!);
    });
  }, INTERVAL_MS);
  const rate = 1000;
  const tickMs = 10;
  const t0 = performance.now();
  let sent = 0;
  const writes: Promise<unknown>[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const i = sent;
      const ref = { userId: `bench-delay-${i % HISTORIES}`, instanceId: HOST_KEYS[0] as string, contextId: "ctx" };
      writes.push(
        stores.keys
          .append(ref, () => ({ userPubKey: pool[i % pool.length] }), clock)
          .then(() => {
            replied.push(performance.now());
          }),
      );
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  await Promise.all(writes);
  const elapsed = (performance.now() - t0) / 1000;
  while (covered.length < replied.length && performance.now() - t0 < (seconds + 5) * 1000) {
    await new Promise((r) => setTimeout(r, 50));
  }
  clearInterval(signer);
  const sorted = [...covered].sort((a, b) => a - b);
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const max = sorted.at(-1);
  ctx.report.line(
    `  in a signed checkpoint after the reply, memory, ${int(replied.length / elapsed)} writes/s for ${seconds} s: ` +
      `p50 ${ms(p(0.5))} ms, p99 ${ms(p(0.99))} ms, max ${ms(max)} ms (${int(covered.length)} of ${int(replied.length)} covered)`,
  );
  ctx.report.goal({
    goal: "log",
    what: "a write in a signed checkpoint at 1,000 writes/s (memory): max",
    figure: max === undefined ? "-" : `${ms(max)} ms`,
    target: "<= 2000 ms",
    holds: max === undefined || covered.length < replied.length ? false : max <= 2000,
  });
}

/** A log of `entries` entries over `histories` histories, built with the log package alone. */
function buildLog(entries: number, histories: number) {
  const tree = new HashLevels();
  const heads = new HeadMap();
  const keys: Uint8Array[] = [];
  for (let h = 0; h < histories; h++) keys.push(sha256(utf8(`bench history ${h}`)));
  for (let i = 0; i < entries; i++) {
    const leaf = leafHash(utf8(`bench entry ${i}`));
    tree.append(leaf);
    heads.set(keys[i % histories]!, leaf);
  }
  heads.root();
  return { tree, heads, keys };
}

/**
 * A key proof's work (the record's inclusion proof and the head-map proof that it is the newest)
 * in a log of 1,000 entries against one of 1,000,000, built directly with the log package.
 */
async function proofCostRows(ctx: RowContext): Promise<void> {
  const r = ctx.report;
  const seconds = ctx.opts.duration;
  const logs = [
    { entries: 1_000, histories: 1_000 },
    { entries: 1_000_000, histories: 10_000 },
  ].map(({ entries, histories }) => {
    const t0 = performance.now();
    const built = buildLog(entries, histories);
    return { entries, histories, ...built, seconds: (performance.now() - t0) / 1000, done: 0, ms: 0 };
  });
  // What pki's log mirror does for pki/getKeyProof: the tree's own inclusion proof (which keeps
  // the right edge's hashes of the checkpoint's size) and the head-map proof.
  const once = (log: (typeof logs)[number], n: number) => {
    log.tree.inclusionProof(Math.floor(Math.random() * log.entries), log.entries);
    log.heads.prove(log.keys[n % log.histories]!);
  };
  for (const log of logs) for (let n = 0; n < 2000; n++) once(log, n);
  // Alternating slices of 100 ms, so that both sizes see the same load from the machine's other
  // tenants; a turn of the event loop between slices.
  const end = performance.now() + 2 * seconds * 1000;
  while (performance.now() < end) {
    for (const log of logs) {
      const start = performance.now();
      while (performance.now() - start < 100) once(log, log.done++);
      log.ms += performance.now() - start;
      await new Promise(setImmediate);
    }
  }
  const rates = logs.map((l) => l.done / (l.ms / 1000));
  logs.forEach((l, i) => {
    r.line(
      `  key proofs in a log of ${int(l.entries)} entries over ${int(l.histories)} histories: ${int(rates[i]!)}/s ` +
        `(built in ${l.seconds.toFixed(1)} s)`,
    );
  });
  const cost = (rates[1] ?? 0) > 0 ? (rates[0] as number) / (rates[1] as number) : Number.POSITIVE_INFINITY;
  r.line(
    `      cost of a proof at 1,000,000 entries vs 1,000: ${times(cost)} (ratio of proofs/s, 100 ms slices in turn)`,
  );
  r.goal({
    goal: "log",
    what: "key proof at 1,000,000 entries vs 1,000: cost",
    figure: times(cost),
    target: "<= 1.30x",
    holds: cost <= 1.3,
  });
}

/** The log's rows that run in this process: on memory, on the harness's FerretDB, and the big log. */
export async function logRows(ctx: RowContext, mongoUrl: string | undefined): Promise<void> {
  await setKeyRows(ctx, "memory", undefined);
  if (mongoUrl !== undefined) await setKeyRows(ctx, "FerretDB", mongoUrl);
  await checkpointDelayRow(ctx);
  await proofCostRows(ctx);
}
