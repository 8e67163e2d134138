import { HOST_KEYS, randomPubKey } from "../support/keys";
import { type Fixture, rpcBody } from "./fixtures";
import { type Figures, type LoadRequest, runLoad } from "./load";
import type { Options } from "./options";
import { int, ms, pct, type Report, seconds, times } from "./report";
import { batch, inLanes, rpc } from "./rpc";

export interface RowContext {
  readonly opts: Options;
  readonly report: Report;
  /** The baseline server, running for the whole run; undefined in runs without ratios (the soak). */
  readonly echoUrl: string | undefined;
  /** The baseline server's process, for its CPU time per request. */
  readonly echoPid?: number;
}

/** A row's figures, and those of the baseline measured just before it when it has a ratio. */
export interface Measured extends Figures {
  readonly echo: Figures | undefined;
}

/** Connections of the rows measured against the baseline. */
export const CONNECTIONS = 50;
/** Connections of the open-loop overload: far more than the closed loop's, below a per-IP connection cap of 256. */
const OVERLOAD_CONNECTIONS = 200;
const TABLE_CONNECTIONS = [1, 5, 20, 50] as const;
/** Seconds each cell of the connections table runs before it is measured (errors count throughout). */
const CELL_WARM_UP_S = 3;
/** A cell more than this far under the best to its left is measured again... */
const FALL = 0.9;
/** ...up to this many times in all, and keeps its best window. */
const CELL_ATTEMPTS = 3;

/** A cell of the connections table over all the windows it was measured in. */
export interface Cell {
  /** The best window's req/s. */
  readonly rps: number;
  /** Errors of every window. */
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly attempts: number;
}

/**
 * Measures a cell; one that falls more than 10 % under `bestLeft` is measured again (at most
 * CELL_ATTEMPTS windows) and keeps its best window. Other jobs on a shared machine only take
 * throughput away, so a window's dip can be theirs; a fall the server causes shows in every window.
 */
export async function measureCell(
  measure: () => Promise<Pick<Figures, "rps" | "errors" | "firstError">>,
  bestLeft: number,
): Promise<Cell> {
  let rps = 0;
  let errors = 0;
  let firstError: string | undefined;
  let attempts = 0;
  do {
    const f = await measure();
    attempts++;
    rps = Math.max(rps, f.rps);
    errors += f.errors;
    firstError ??= f.firstError;
  } while (rps < FALL * bestLeft && attempts < CELL_ATTEMPTS);
  return { rps, errors, firstError, attempts };
}

const warmed = new Set<string>();

/**
 * An unmeasured run first, so that the row does not time the JIT compiling
 * the path: a row's length on a server's first row (the server's code is
 * large and takes seconds to settle), a second on later ones.
 */
async function warmUp(ctx: RowContext, url: string, requests: readonly LoadRequest[], connections: number) {
  const duration = warmed.has(url) ? Math.min(1, ctx.opts.duration / 2) : ctx.opts.duration;
  warmed.add(url);
  await runLoad({ url, requests, connections, duration });
}

/** What the baseline is sent: a request of the size the rows send. */
const ECHO_REQUESTS: LoadRequest[] = [
  {
    body: rpcBody(1, "pki/verifyKey", {
      userId: "bench-reader",
      instanceId: HOST_KEYS[0],
      contextId: "ctx-bench",
      userPubKey: HOST_KEYS[1],
      date: 1_700_000_000_000,
    }),
  },
];

/**
 * Measures `pairs` (baseline, row) pairs one after the other and keeps the pair whose ratio is the
 * median (the lower middle one of an even number), with every pair's ratio. Two pairs a minute
 * apart differ by a third on this shared machine; the middle one of three is moved less by a
 * burst of other jobs than any single pair.
 */
export async function medianPair(
  pairs: number,
  measure: () => Promise<{ row: Figures; echo: Figures }>,
): Promise<{ row: Figures; echo: Figures; ratios: number[] }> {
  const measured: { row: Figures; echo: Figures; ratio: number }[] = [];
  for (let i = 0; i < Math.max(1, pairs); i++) {
    const { row, echo } = await measure();
    measured.push({ row, echo, ratio: echo.rps > 0 ? row.rps / echo.rps : 0 });
  }
  const ratios = measured.map((m) => m.ratio);
  const sorted = [...measured].sort((a, b) => a.ratio - b.ratio);
  const middle = sorted[(sorted.length - 1) >> 1] as (typeof sorted)[number];
  return { row: middle.row, echo: middle.echo, ratios };
}

/**
 * A measured row. With `vsEcho` the baseline is measured right before it, so
 * that the ratio compares two runs under the same load from the machine's
 * other tenants, which drifts over a run by far more than the figures differ;
 * with `pairs` (the goals' rows), that many pairs, and the median one counts.
 */
export async function measureRow(
  ctx: RowContext,
  label: string,
  url: string,
  requests: readonly LoadRequest[],
  opts: { connections?: number; vsEcho?: boolean; pids?: () => readonly number[]; pairs?: number } = {},
): Promise<Measured> {
  const connections = opts.connections ?? CONNECTIONS;
  await warmUp(ctx, url, requests, connections);
  const echoPids = ctx.echoPid === undefined ? undefined : () => [ctx.echoPid as number];
  const pids = url === ctx.echoUrl ? echoPids : opts.pids;
  const measure = () => runLoad({ url, requests, connections, duration: ctx.opts.duration, pids });
  const echoUrl = ctx.echoUrl;
  if (opts.vsEcho === false || echoUrl === undefined) {
    const f = await measure();
    ctx.report.row(label, connections, f);
    return { ...f, echo: undefined };
  }
  const measureEcho = () =>
    runLoad({ url: echoUrl, requests: ECHO_REQUESTS, connections, duration: ctx.opts.duration, pids: echoPids });
  const { row, echo, ratios } = await medianPair(opts.pairs ?? 1, async () => {
    const e = await measureEcho();
    return { echo: e, row: await measure() };
  });
  ctx.report.row(label, connections, row, echo);
  if (ratios.length > 1) {
    ctx.report.line(`      (the median of ${ratios.length} pairs, whose ratios were ${ratios.map(pct).join(", ")})`);
  }
  return { ...row, echo };
}

/** The processes of a system under test, for the CPU-time column. */
const pidsOf = (fx: Fixture) => () => fx.sys.processes().map((p) => p.pid);

const reads = (bodies: readonly string[], auth: Record<string, string>): LoadRequest[] =>
  bodies.map((body) => ({ body, headers: auth }));

/** The baseline on its own: a bare fastify server answering a JSON-RPC request. */
export async function echoRow(ctx: RowContext): Promise<void> {
  if (ctx.echoUrl === undefined) return;
  await measureRow(ctx, "echo: bare fastify, JSON-RPC result", ctx.echoUrl, ECHO_REQUESTS, { vsEcho: false });
  ctx.report.line("      (each row with a ratio has the baseline measured again just before it: its echo req/s)");
}

function ratioGoals(ctx: RowContext, goal: string, what: string, f: Measured, min: number): void {
  const ratio = f.echo?.rps ? f.rps / f.echo.rps : undefined;
  ctx.report.goal({
    goal,
    what: `${what}: req/s vs echo`,
    figure: ratio === undefined ? "-" : pct(ratio),
    target: `>= ${min * 100} %`,
    holds: ratio === undefined ? undefined : ratio >= min,
  });
  // The same comparison in CPU time per request, which a busy machine hardly moves.
  const cpu = cpuRatio(f);
  if (cpu !== undefined) {
    ctx.report.goal({
      goal,
      what: `${what}: echo's CPU per request vs this one's`,
      figure: pct(cpu),
      target: `>= ${min * 100} %`,
      holds: cpu >= min,
    });
  }
}

/** The echo's server CPU time per request over this row's: the req/s ratio a server with a core to itself would show. */
export function cpuRatio(f: Measured): number | undefined {
  const mine = f.cpuUsPerResult;
  const echo = f.echo?.cpuUsPerResult;
  return mine !== undefined && echo !== undefined && mine > 0 ? echo / mine : undefined;
}

/** Goal 1: Bearer reads at 50 connections. Returns verifyKey's figures (its closed-loop rate is goal 5's reference). */
export async function readRows(ctx: RowContext, fx: Fixture): Promise<Measured> {
  const { url } = fx.sys;
  const pids = pidsOf(fx);
  const pairs = ctx.opts.pairs;
  const verify = await measureRow(ctx, "embedded: pki/verifyKey (Bearer)", url, reads(fx.verifyKeyBodies, fx.auth), {
    pids,
    pairs,
  });
  const getKeyAt = await measureRow(ctx, "embedded: pki/getKeyAt (Bearer)", url, reads(fx.getKeyAtBodies, fx.auth), {
    pids,
    pairs,
  });
  for (const [name, f] of [
    ["pki/verifyKey", verify],
    ["pki/getKeyAt", getKeyAt],
  ] as const) {
    ratioGoals(ctx, "1", `embedded ${name}`, f, 0.25);
    ctx.report.goal({
      goal: "1",
      what: `embedded ${name}: p99 at ${CONNECTIONS} connections`,
      figure: `${ms(f.p99)} ms`,
      target: "<= 20 ms",
      holds: Number.isNaN(f.p99) ? undefined : f.p99 <= 20,
    });
  }
  return verify;
}

/** Goal 2: client_credentials grants at 50 connections, on a key of their own. */
export async function tokenRow(ctx: RowContext, fx: Fixture): Promise<void> {
  const f = await measureRow(
    ctx,
    "embedded: auth/token client_credentials",
    fx.sys.url,
    [{ body: fx.tokenBody(fx.grantKey) }],
    { pids: pidsOf(fx), pairs: ctx.opts.pairs },
  );
  ratioGoals(ctx, "2", "embedded auth/token", f, 0.15);
}

/**
 * Goal 5: twice the sustainable rate of verifyKey, open loop (autocannon's
 * overallRate over many connections): how much of the sustainable rate is
 * still served, and whether the rest is refused promptly rather than left to
 * time out.
 */
export async function overloadRows(ctx: RowContext, fx: Fixture, closedLoop: Figures | undefined): Promise<void> {
  const { url } = fx.sys;
  const requests = reads(fx.verifyKeyBodies, fx.auth);
  const sustained =
    closedLoop ??
    (await measureRow(ctx, "embedded: pki/verifyKey, closed loop (sustainable)", url, requests, { vsEcho: false }));
  const sustainable = sustained.rps;
  const rate = Math.max(1, Math.round(2 * sustainable));
  // autocannon gives each connection rate/connections per second, and a
  // connection whose share rounds to 0 is not limited at all.
  const connections = Math.min(OVERLOAD_CONNECTIONS, rate);
  const f = await runLoad({ url, requests, connections, duration: ctx.opts.duration, overallRate: rate });
  const served = sustainable > 0 ? f.rps / sustainable : 0;
  const r = ctx.report;
  r.row("embedded: pki/verifyKey, 2x sustainable, open loop", connections, f);
  r.line(
    `      offered ${int(rate)} req/s (2 x ${int(sustainable)} sustainable at ${CONNECTIONS} connections), ` +
      `sent ${int(f.sentRps)}/s; served ${int(f.rps)}/s = ${pct(served)} of sustainable`,
  );
  r.line(
    `      refused (-32000, HTTP 503): ${int(f.refused)}, p99 ${ms(f.refusedP99)} ms; ` +
      `timeouts ${int(f.timeouts)}; other errors ${int(f.errors - f.timeouts)}`,
  );
  r.goal({
    goal: "5",
    what: "overload (2x): results/s vs sustainable",
    figure: pct(served),
    target: ">= 90 %",
    holds: served >= 0.9,
  });
  r.goal({
    goal: "5",
    what: "overload (2x): refusals' p99",
    figure: f.refused === 0 ? "no refusals" : `${ms(f.refusedP99)} ms`,
    target: "prompt (<= 20 ms)",
    holds: f.refusedP99 === undefined ? undefined : f.refusedP99 <= 20,
  });
  r.goal({
    goal: "5",
    what: "overload (2x): timeouts and errors",
    figure: int(f.errors),
    target: "0",
    holds: f.errors === 0,
  });
}

/**
 * Goal 3, history size: getKeyAt on a history of N records against a
 * one-record history. The long history is built through the API, in batches
 * of 100 requests over a few connections.
 */
export async function historyRows(ctx: RowContext, fx: Fixture): Promise<void> {
  const { url } = fx.sys;
  const { auth, instanceId } = fx;
  const n = ctx.opts.historyRecords;
  const r = ctx.report;
  const long = { userId: "bench-long-history", instanceId, contextId: "ctx-long" };
  const short = { userId: "bench-short-history", instanceId, contextId: "ctx-short" };

  // Each connection appends with keys of its own, in turn: however the
  // connections' writes interleave, no write repeats the current key (81).
  const lanes = 4;
  const perLane = 4;
  const pool = Array.from({ length: lanes * perLane + 1 }, () => randomPubKey());
  const written = new Array<number>(lanes).fill(0);
  const nextKey = (lane: number) => {
    const k = written[lane] ?? 0;
    written[lane] = k + 1;
    return pool[lane * perLane + (k % perLane)];
  };
  const started = performance.now();
  await rpc(url, "pkiAdmin/setKey", { ...long, userPubKey: pool[lanes * perLane] }, auth);
  const firstDate = (await rpc<{ createDate: number }>(url, "pki/getCurrentKey", long, auth)).createDate;
  const rest = n - 1;
  await inLanes(Math.ceil(rest / 100), lanes, async (b, lane) => {
    const size = Math.min(100, rest - b * 100);
    const calls = Array.from({ length: size }, () => ({
      method: "pkiAdmin/setKey",
      params: { ...long, userPubKey: nextKey(lane) },
    }));
    await batch(url, calls, auth);
  });
  const built = (performance.now() - started) / 1000;
  const lastDate = (await rpc<{ createDate: number }>(url, "pki/getCurrentKey", long, auth)).createDate;
  r.line(
    `  built a history of ${int(n)} records in ${seconds(built)} (${int(n / built)} records/s; ` +
      `pkiAdmin/setKey in batches of 100 over ${lanes} connections)`,
  );

  await rpc(url, "pkiAdmin/setKey", { ...short, userPubKey: pool[0] }, auth);
  const shortDate = (await rpc<{ createDate: number }>(url, "pki/getCurrentKey", short, auth)).createDate;
  // The same spread of dates over both histories: every lookup finds a record.
  const span = lastDate - firstDate;
  const bodies = (ref: object, from: number) =>
    Array.from({ length: 32 }, (_, i) =>
      rpcBody(i + 1, "pki/getKeyAt", { ...ref, date: from + Math.round((span * i) / 31) }),
    );
  const one = await measureRow(
    ctx,
    "embedded: pki/getKeyAt, one-record history",
    url,
    reads(bodies(short, shortDate), auth),
    { vsEcho: false },
  );
  const many = await measureRow(
    ctx,
    `embedded: pki/getKeyAt, ${int(n)}-record history`,
    url,
    reads(bodies(long, firstDate), auth),
    { vsEcho: false },
  );
  const cost = many.rps > 0 ? one.rps / many.rps : Number.POSITIVE_INFINITY;
  r.line(`      cost of a lookup in ${int(n)} records vs one: ${times(cost)} (ratio of req/s)`);
  r.goal({
    goal: "3",
    what: `getKeyAt on ${int(n)} records vs 1: cost`,
    figure: times(cost),
    target: "<= 1.20x",
    holds: cost <= 1.2,
  });
}

const median = (fs: readonly Figures[]): Figures =>
  [...fs].sort((a, b) => a.rps - b.rps)[Math.floor(fs.length / 2)] as Figures;

/**
 * Goal 3, grant count: grant throughput over the first grants of fresh keys
 * against the same key's after it has had many (each grant opens a session;
 * past 16 each also closes the oldest).
 */
export async function grantRows(ctx: RowContext, fx: Fixture): Promise<void> {
  const { url } = fx.sys;
  const r = ctx.report;
  const sample = ctx.opts.grantSample;
  const before = ctx.opts.grantsBefore;
  const connections = 10;
  const runs = 3;
  await warmUp(ctx, url, [{ body: fx.tokenBody(fx.grantKey) }], connections);

  const fresh = [];
  for (let i = 0; i < runs; i++) fresh.push(await fx.addGrantKey(`bench fresh ${i + 1}`));
  const early: Figures[] = [];
  for (const key of fresh) {
    early.push(await runLoad({ url, requests: [{ body: fx.tokenBody(key) }], connections, amount: sample }));
  }
  const key = fresh[0] as { id: string; secret: string };
  const grant = {
    method: "auth/token",
    params: { grantType: "client_credentials", clientId: key.id, clientSecret: key.secret, scope: ["pki:read"] },
  };
  const started = performance.now();
  const fill = before - sample;
  await inLanes(Math.ceil(fill / 100), 2, async (b) => {
    await batch(
      url,
      Array.from({ length: Math.min(100, fill - b * 100) }, () => grant),
    );
  });
  const filled = (performance.now() - started) / 1000;
  const late: Figures[] = [];
  for (let i = 0; i < runs; i++) {
    late.push(await runLoad({ url, requests: [{ body: fx.tokenBody(key) }], connections, amount: sample }));
  }

  const e = median(early);
  const l = median(late);
  r.row(`embedded: auth/token, a fresh key's grants 1-${sample}`, connections, e);
  r.row(`embedded: auth/token, its grants ${int(before + 1)}-${int(before + runs * sample)}`, connections, l);
  r.line(`      each the median of ${runs} runs of ${sample} grants (the first: ${runs} fresh keys)`);
  r.line(`      grants ${int(sample + 1)}-${int(before)} of that key in batches of 100: ${seconds(filled)}`);
  const cost = l.rps > 0 ? e.rps / l.rps : Number.POSITIVE_INFINITY;
  r.line(`      cost of a grant after ${int(before)} grants of the key vs its first ones: ${times(cost)}`);
  r.goal({
    goal: "3",
    what: `auth/token: a key's ${int(before)}th grant vs its 10th: cost`,
    figure: times(cost),
    target: "<= 1.20x (equal)",
    holds: cost <= 1.2,
  });
}

/** Goal 4: verifyKey on the distributed form against the baseline. */
export async function distributedRow(ctx: RowContext, fx: Fixture): Promise<void> {
  const f = await measureRow(
    ctx,
    "distributed: pki/verifyKey (Bearer)",
    fx.sys.url,
    reads(fx.verifyKeyBodies, fx.auth),
    { pids: pidsOf(fx), pairs: ctx.opts.pairs },
  );
  ratioGoals(ctx, "4", "distributed pki/verifyKey", f, 0.1);
  // The dates above are the records' own: once known, their answers cannot change, and pki
  // serves them from memory. A date after the newest record is read from the store every time.
  await measureRow(
    ctx,
    "distributed: pki/verifyKey at the current time",
    fx.sys.url,
    [{ make: () => ({ ...fx.verifyKeyNow(), headers: fx.auth }) }],
    { pids: pidsOf(fx) },
  );
  ctx.report.line("      (a date after the history's newest record: pki reads the store on every request)");
}

/**
 * Goal 4, the table: every main method at 1, 5, 20 and 50 connections on the
 * distributed form. Every request must succeed, and throughput must not fall
 * as connections rise (a fall is a cell under 90 % of the best cell to its left).
 */
export async function connectionsTable(ctx: RowContext, fx: Fixture): Promise<void> {
  const { url } = fx.sys;
  const r = ctx.report;
  const methods: [string, LoadRequest[]][] = [
    ["pki/verifyKey", reads(fx.verifyKeyBodies, fx.auth)],
    ["pki/getKeyAt", reads(fx.getKeyAtBodies, fx.auth)],
    ["pkiAdmin/setKey", [{ make: fx.setKeyMaker(), headers: fx.auth }]],
    ["auth/token", [{ body: fx.tokenBody(fx.grantKey) }]],
    ["pkiAdmin/listHosts", [{ body: fx.listHostsBody, headers: fx.auth }]],
  ];
  const rows: { label: string; cells: string[] }[] = [];
  const problems: string[] = [];
  const falls: string[] = [];
  let errors = 0;
  for (const [method, requests] of methods) {
    await warmUp(ctx, url, requests, 5);
    const cells: string[] = [];
    let best = 0;
    for (const connections of TABLE_CONNECTIONS) {
      // Each cell warms up at its own connection count first: at 50 connections a grant on the
      // test server takes some 2.5 s, so a cell's first seconds hold no reply at all.
      const f = await measureCell(
        () =>
          runLoad({
            url,
            requests,
            connections,
            duration: CELL_WARM_UP_S + ctx.opts.cellDuration,
            warmUpSeconds: CELL_WARM_UP_S,
          }),
        best,
      );
      cells.push(`${int(f.rps)}/s e=${int(f.errors)}${f.attempts > 1 ? ` (best of ${f.attempts})` : ""}`);
      errors += f.errors;
      if (f.errors > 0) problems.push(`${method} at ${connections}: ${f.firstError ?? "errors"}`);
      if (best > 0 && f.rps < FALL * best) falls.push(`${method} at ${connections}`);
      best = Math.max(best, f.rps);
    }
    rows.push({ label: method, cells });
  }
  r.line(
    `  req/s and errors per cell (${ctx.opts.cellDuration} s each after ${CELL_WARM_UP_S} s at its connections, errors counted throughout), by connections:`,
  );
  r.line(
    `  (a cell more than ${pct(1 - FALL)} under the best to its left is measured again, up to ${CELL_ATTEMPTS} windows in all, and shows its best)`,
  );
  r.table(
    "method",
    TABLE_CONNECTIONS.map((c) => String(c)),
    rows,
  );
  for (const p of problems) r.line(`      ${p.replace(/\s+/g, " ").slice(0, 300)}`);
  if (falls.length > 0) r.line(`      throughput fell at: ${falls.join(", ")}`);
  r.goal({
    goal: "4",
    what: "distributed: every main method at 1-50 connections",
    figure: `${int(errors)} errors`,
    target: "0 errors",
    holds: errors === 0,
  });
  r.goal({
    goal: "4",
    what: "distributed: req/s does not fall as connections rise",
    figure: falls.length === 0 ? "no fall" : `${falls.length} falls`,
    target: "no fall > 10 %",
    holds: falls.length === 0,
  });
}
