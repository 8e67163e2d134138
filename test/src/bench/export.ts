import { randomBytes } from "node:crypto";
import { AUDIT_COLLECTION } from "@pkiserver/audit";
import { connectMongo } from "@pkiserver/kit";
import { int, type Report, seconds } from "./report";
import type { RowContext } from "./rows";
import { rssMiB, type ServerProcess, type System } from "./servers";

/** The events are filled in batches of this many, straight into the audit collection. */
const FILL_BATCH = 5000;
const RSS_SAMPLE_MS = 50;

interface Streamed {
  readonly events: number;
  readonly bytes: number;
  readonly ms: number;
  /** Peak RSS during the stream minus RSS before it, per process. */
  readonly peak: readonly { readonly name: string; readonly mib: number | undefined }[];
}

/**
 * Streams `GET /audit/export` with `query`, counting lines and bytes without
 * keeping them, while sampling the RSS of `procs` for the peak.
 */
async function stream(sys: System, query: string, procs: readonly ServerProcess[]): Promise<Streamed> {
  const basic = `Basic ${Buffer.from(`${sys.firstKey.id}:${sys.firstKey.secret}`).toString("base64")}`;
  const before = procs.map((p) => rssMiB(p.pid));
  const peak = [...before];
  const sample = () => {
    procs.forEach((p, i) => {
      const now = rssMiB(p.pid);
      if (now !== undefined && (peak[i] === undefined || now > (peak[i] as number))) peak[i] = now;
    });
  };
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  const started = performance.now();
  let events = 0;
  let bytes = 0;
  try {
    const res = await fetch(`${sys.url}/audit/export${query}`, { headers: { authorization: basic } });
    if (res.status !== 200 || res.body === null)
      throw new Error(`export answered HTTP ${res.status}: ${await res.text()}`);
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) events++;
    }
  } finally {
    clearInterval(timer);
  }
  sample();
  const ms = performance.now() - started;
  return {
    events,
    bytes,
    ms,
    peak: procs.map((p, i) => {
      const b = before[i];
      const top = peak[i];
      return { name: p.name, mib: b === undefined || top === undefined ? undefined : top - b };
    }),
  };
}

/**
 * `GET /audit/export` of `total` events on the distributed form (API.md
 * section 12: streamed in constant memory), whose processes run with an old
 * space of `heapMiB`. The events are written straight into the audit
 * service's MongoDB collection, then exported twice: a tenth of them, then
 * all of them. Each line gives the time and the peak RSS growth of the
 * gateway and the audit service while the export streamed. RSS follows the
 * garbage collector's pace as much as what is held; the heap limit is what
 * makes the point: an export that held its events (several times their
 * NDJSON size as objects) could not finish within it.
 */
export async function exportRows(ctx: RowContext, sys: System, total: number, heapMiB: number): Promise<void> {
  const r: Report = ctx.report;
  const mongo = sys.mongo;
  if (mongo === undefined) throw new Error("the export rows need the distributed form's database");
  r.line(`  processes with --max-old-space-size=${heapMiB}`);
  const handle = await connectMongo(mongo.url, mongo.db);
  // A type of its own and a time range no other event has, so the exports match these alone.
  const from = Date.now() - 3_600_000;
  const run = randomBytes(4).toString("hex");
  try {
    const c = handle.db.collection<{ _id: string }>(AUDIT_COLLECTION);
    const filled = performance.now();
    for (let at = 0; at < total; at += FILL_BATCH) {
      const docs = [];
      for (let i = at; i < Math.min(total, at + FILL_BATCH); i++) {
        docs.push({
          _id: `bench-${run}-${String(i).padStart(7, "0")}`,
          time: from + i,
          type: "pki.key_set",
          outcome: "ok",
          actor: { apiKeyId: sys.firstKey.id },
          target: `bench-user-${i % 1000}`,
          details: { userId: `bench-user-${i % 1000}`, contextId: "ctx-bench", instanceId: "bench" },
          expiresAt: new Date(Date.now() + 86_400_000),
        });
      }
      await c.insertMany(docs, { ordered: false });
    }
    r.line(
      `  ${int(total)} pki.key_set events written into ${AUDIT_COLLECTION}: ${seconds((performance.now() - filled) / 1000)}`,
    );
  } finally {
    await handle.client.close();
  }

  const procs = sys.processes().filter((p) => p.name === "gateway" || p.name === "audit");
  const tenth = Math.max(1, Math.floor(total / 10));
  const results: [number, Streamed][] = [];
  for (const count of [tenth, total]) {
    const s = await stream(sys, `?types=pki.key_set&from=${from}&to=${from + count - 1}`, procs);
    if (s.events !== count) throw new Error(`the export of ${count} events gave ${s.events} lines`);
    results.push([count, s]);
    const growth = s.peak.map((p) => `${p.name} +${p.mib === undefined ? "?" : p.mib.toFixed(1)} MiB`).join(", ");
    r.line(
      `  GET /audit/export, ${int(count)} events (${(s.bytes / 1048576).toFixed(1)} MiB NDJSON): ` +
        `${seconds(s.ms / 1000)}, ${int((count * 1000) / s.ms)} events/s; peak RSS growth ${growth}`,
    );
  }
  const all = results[results.length - 1]?.[1];
  r.goal({
    goal: "7",
    what: `distributed: audit export of ${int(total)} events within a ${heapMiB} MiB heap`,
    figure: all === undefined ? "-" : `${int(all.events)} lines`,
    target: `all ${int(total)}`,
    holds: all?.events === total,
  });
}
