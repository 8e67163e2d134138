import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { exportRows } from "./export";
import { type Fixture, prepare } from "./fixtures";
import type { Figures } from "./load";
import { keyProofRows, logRows, proofSizeRows, setKeyApiRows } from "./log";
import { type Options, parseOptions, type Section, USAGE } from "./options";
import { Report } from "./report";
import {
  CONNECTIONS,
  connectionsTable,
  distributedRow,
  echoRow,
  grantRows,
  historyRows,
  overloadRows,
  type RowContext,
  readRows,
  tokenRow,
} from "./rows";
import { closeRpc } from "./rpc";
import {
  BENCH_ENV,
  nameProfiles,
  nodeFlags,
  profileDir,
  type System,
  startDistributedForm,
  startEcho,
  startEmbedded,
  startInfra,
} from "./servers";
import { soak } from "./soak";

/**
 * `npm run bench`: throughput and latency of the server on this machine, each
 * as a ratio to a bare fastify server measured in the same run. The machine is
 * shared and noisy: the bench asserts nothing, it reports, and its summary says
 * which performance goals the figures meet.
 */

const EMBEDDED_SECTIONS: readonly Section[] = ["reads", "overload", "token", "history", "grants", "log"];
/** The old-space limit of the processes the audit export is measured on (goal 7). */
const EXPORT_HEAP_MIB = 64;

interface Running {
  readonly sys: System;
  readonly fx: Fixture;
}

async function startPrepared(start: () => Promise<System>): Promise<Running> {
  const sys = await start();
  try {
    return { sys, fx: await prepare(sys) };
  } catch (err) {
    await sys.stop();
    throw err;
  }
}

/** Runs one section; a failing section is reported with the server's last output, and the run goes on. */
async function guarded(report: Report, name: string, sys: System | undefined, body: () => Promise<void>) {
  try {
    await body();
  } catch (err) {
    report.line(`  ${name} FAILED: ${err instanceof Error ? err.message : String(err)}`);
    const tail = sys?.recentOutput();
    if (tail) report.line(`  last server output:\n${tail.replace(/^/gm, "    | ")}`);
  }
}

async function runEmbedded(ctx: RowContext): Promise<void> {
  const { opts, report } = ctx;
  const sections = EMBEDDED_SECTIONS.filter((s) => opts.sections.has(s));
  if (sections.length === 0) return;
  let shared: Running | undefined;
  let sustainable: Figures | undefined;
  let titled = false;
  try {
    for (const section of sections) {
      // With --cpu-prof each section gets a server process, hence a profile, of its own.
      const fresh = opts.cpuProfDir !== undefined;
      if (!fresh && shared === undefined) shared = await startPrepared(() => startEmbedded(opts.nodeArgs));
      const running =
        shared ?? (await startPrepared(() => startEmbedded(nodeFlags(opts.nodeArgs, opts.cpuProfDir, section))));
      if (!titled) {
        report.section(`embedded form: npm start's process (${running.sys.storage})`);
        report.rowHeader();
        titled = true;
      }
      try {
        await guarded(report, section, running.sys, async () => {
          const { fx } = running;
          if (section === "reads") sustainable = await readRows(ctx, fx);
          else if (section === "overload") await overloadRows(ctx, fx, sustainable);
          else if (section === "token") await tokenRow(ctx, fx);
          else if (section === "history") await historyRows(ctx, fx);
          else if (section === "grants") await grantRows(ctx, fx);
          else if (section === "log") {
            await keyProofRows(ctx, fx);
            // The same server without the log, for setKey with and without it in the same run.
            const bare = await startPrepared(() => startEmbedded(opts.nodeArgs, { PMX_TEST_LOG_OFF: "true" }));
            try {
              await setKeyApiRows(ctx, fx, bare.fx);
            } finally {
              await bare.sys.stop();
            }
            // Proofs by log size: two more servers, each with a log filled for it.
            await proofSizeRows(ctx, async (name, env, readyWithinMs) => {
              const flags = nodeFlags(opts.nodeArgs, opts.cpuProfDir, name);
              return (await startPrepared(() => startEmbedded(flags, env, readyWithinMs))).fx;
            });
          }
        });
      } finally {
        if (fresh) await running.sys.stop();
      }
    }
  } finally {
    await shared?.sys.stop();
  }
}

async function runDistributed(ctx: RowContext): Promise<void> {
  const { opts, report } = ctx;
  const row = opts.sections.has("distributed");
  const table = opts.sections.has("table");
  const exported = opts.sections.has("export");
  if (!row && !table && !exported) return;
  report.section("distributed form: gateway, apikey, auth, pki and audit processes (as npm run start:distributed)");
  // NODE_OPTIONS does not take --cpu-prof: the launched processes load a profiler instead, and each
  // profile is named by its process.
  const profEnv: Record<string, string> =
    opts.cpuProfDir === undefined
      ? {}
      : {
          NODE_OPTIONS: `--require=${join(__dirname, "cpu-profile-preload.js")}`,
          PMX_BENCH_CPU_PROF_DIR: profileDir(opts.cpuProfDir, "distributed"),
        };
  const infra = await startInfra(opts.postgres, (l) => report.line(`  ${l}`));
  if (!infra) return;
  try {
    report.line(`  on ${infra.description}`);
    if (row || table) {
      const started = performance.now();
      const running = await startPrepared(() => startDistributedForm(infra, profEnv));
      report.line(`  started in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      const launched = running.sys.processes();
      try {
        if (row) {
          report.rowHeader();
          await guarded(report, "distributed", running.sys, () => distributedRow(ctx, running.fx));
        }
        if (table) await guarded(report, "table", running.sys, () => connectionsTable(ctx, running.fx));
      } finally {
        await running.sys.stop();
        if (opts.cpuProfDir !== undefined) nameProfiles(join(opts.cpuProfDir, "distributed"), launched);
      }
    }
    if (exported) {
      // A system of its own, every process with a small heap: an export that held its events could not finish.
      const sys = await startDistributedForm(infra, { NODE_OPTIONS: `--max-old-space-size=${EXPORT_HEAP_MIB}` });
      try {
        await guarded(report, "export", sys, () => exportRows(ctx, sys, opts.auditEvents, EXPORT_HEAP_MIB));
      } finally {
        await sys.stop();
      }
    }
  } finally {
    await infra.stop();
  }
}

/** The log's rows measured in this process: its cost on the write path, checkpoint delay, proof cost by size. */
async function runLog(ctx: RowContext): Promise<void> {
  const { opts, report } = ctx;
  if (!opts.sections.has("log")) return;
  report.section("transparency log, in this process (the log package and pki's stores, no server around them)");
  const infra = await startInfra(false, (l) => report.line(`  ${l}`));
  try {
    if (infra) report.line(`  on ${infra.description}`);
    await logRows(ctx, infra?.mongoUrl);
  } finally {
    await infra?.stop();
  }
}

async function runSoak(ctx: RowContext, plan: Exclude<Options["soak"], false>): Promise<void> {
  const { opts, report } = ctx;
  report.section("soak: embedded form");
  const embedded = await startPrepared(() => startEmbedded(nodeFlags(opts.nodeArgs, opts.cpuProfDir, "soak")));
  try {
    await guarded(report, "soak", embedded.sys, () => soak(report, embedded.fx, plan));
  } finally {
    await embedded.sys.stop();
  }
  if (!plan.distributed) return;
  report.section("soak: distributed form");
  const infra = await startInfra(opts.postgres, (l) => report.line(`  ${l}`));
  if (!infra) return;
  try {
    report.line(`  on ${infra.description}`);
    const distributed = await startPrepared(() => startDistributedForm(infra));
    try {
      await guarded(report, "soak", distributed.sys, () => soak(report, distributed.fx, plan));
    } finally {
      await distributed.sys.stop();
    }
  } finally {
    await infra.stop();
  }
}

function autocannonVersion(): string {
  const pkg = JSON.parse(readFileSync(require.resolve("autocannon/package.json"), "utf8")) as { version: string };
  return pkg.version;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  if (opts === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const report = new Report();
  const mode = opts.soak ? "soak" : opts.quick ? "quick run" : "full run";
  report.header(`pkiserver benchmark, ${mode}, ${new Date().toISOString()}`, [
    `load: autocannon ${autocannonVersion()} in this process; every server in a process of its own` +
      (opts.soak ? "" : `; rows ${opts.duration} s after a warm-up, ${CONNECTIONS} connections unless shown`),
    `servers: ${Object.entries(BENCH_ENV)
      .filter(([k]) => k !== "PMX_HOST")
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}${opts.nodeArgs.length > 0 ? `; node ${opts.nodeArgs.join(" ")}` : ""}`,
    ...(opts.cpuProfDir ? [`CPU profiles: ${opts.cpuProfDir}/<section>/`] : []),
  ]);
  try {
    if (opts.soak) {
      await runSoak({ opts, report, echoUrl: undefined }, opts.soak);
    } else {
      const echo = await startEcho();
      try {
        const ctx: RowContext = { opts, report, echoUrl: echo.url, echoPid: echo.pid };
        report.section("baseline");
        report.rowHeader();
        await echoRow(ctx);
        await guarded(report, "embedded form", undefined, () => runEmbedded(ctx));
        await guarded(report, "transparency log", undefined, () => runLog(ctx));
        await guarded(report, "distributed form", undefined, () => runDistributed(ctx));
      } finally {
        await echo.stop();
      }
    }
  } finally {
    closeRpc();
  }
  report.summary();
  if (opts.cpuProfDir) {
    report.line();
    report.line("CPU profiles (open in Chrome DevTools, Performance tab):");
    for (const section of readdirSync(opts.cpuProfDir)) {
      for (const file of readdirSync(join(opts.cpuProfDir, section)))
        report.line(`  ${join(opts.cpuProfDir, section, file)}`);
    }
  }
  return 0;
}

process.once("SIGINT", () => process.exit(130));
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
