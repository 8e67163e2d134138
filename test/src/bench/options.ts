import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The parts of a run, for `--only`. */
export const SECTIONS = [
  "reads",
  "overload",
  "token",
  "history",
  "grants",
  "log",
  "distributed",
  "table",
  "export",
] as const;
export type Section = (typeof SECTIONS)[number];

export interface Options {
  /** Seconds each measured row runs. */
  readonly duration: number;
  /** (Baseline, row) pairs measured for each goal's ratio row; the median pair counts. */
  readonly pairs: number;
  /** Seconds each cell of the distributed form's connections table runs. */
  readonly cellDuration: number;
  readonly quick: boolean;
  readonly sections: ReadonlySet<Section>;
  /** Records in the long history of goal 3. */
  readonly historyRecords: number;
  /** Grants a key has had before its throughput is measured again (goal 3). */
  readonly grantsBefore: number;
  /** Grants in each of the two grant-throughput measurements (goal 3). */
  readonly grantSample: number;
  /** Audit events the distributed form's export streams (goal 7). */
  readonly auditEvents: number;
  /** Entries of the large log whose proofs are measured against a log of 1,000 (issue 11). */
  readonly proofLogEntries: number;
  /** FerretDB on a throwaway PostgreSQL cluster instead of the harness's MongoDB-compatible server. */
  readonly postgres: boolean;
  readonly soak: false | { grants: number; reads: number; distributed: boolean };
  /** Where each server process writes its CPU profile; undefined when not profiling. */
  readonly cpuProfDir: string | undefined;
  /** Node flags for the server processes (PMX_BENCH_NODE_ARGS). */
  readonly nodeArgs: readonly string[];
}

export const USAGE = `npm run bench -- [options]

  --duration=S      seconds per measured row (default 5; --quick 2)
  --pairs=N         (baseline, row) pairs measured for each row a goal compares with the baseline; the
                    median pair counts (default 3; --quick 1)
  --quick           a much shorter run: 2 s rows, a tenth of the history, grant and audit-event counts
                    and of the large log's entries (100,000 instead of 1,000,000)
  --only=LIST       run only these sections, comma-separated: ${SECTIONS.join(", ")}
  --postgres        the distributed form on FerretDB over a throwaway PostgreSQL cluster
  --soak[=GRANTS]   100,000 grants (or GRANTS) and ten reads per grant against the embedded form, RSS over time
  --distributed     with --soak: the distributed form too
  --cpu-prof[=DIR]  profile each server process (node --cpu-prof), one directory per section
  --help

PMX_BENCH_NODE_ARGS adds node flags to the server processes. With PMX_MONGO_URL, PMX_SECRET_KEY and
optionally PMX_NATS_URL set, the embedded form runs on those instead of in-memory stores.
PMX_ACCESS_TOKEN_LIFETIME is passed on to the embedded form: a soak that outlasts it shows memory
once revoked sessions no longer matter (their access tokens have expired).`;

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options | "help" {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}\n\n${USAGE}`);
    const eq = arg.indexOf("=");
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if ((arg === "--duration" || arg === "--only") && argv[i + 1] !== undefined) {
      flags.set(arg.slice(2), argv[++i] as string);
    } else {
      flags.set(arg.slice(2), true);
    }
  }
  if (flags.has("help")) return "help";
  const known = new Set(["duration", "pairs", "quick", "only", "postgres", "soak", "distributed", "cpu-prof"]);
  for (const name of flags.keys()) {
    if (!known.has(name)) throw new Error(`unknown option --${name}\n\n${USAGE}`);
  }

  if (flags.has("distributed") && !flags.has("soak")) {
    throw new Error("--distributed goes with --soak (the other rows cover the distributed form without it)");
  }
  const quick = flags.has("quick");
  const durationFlag = flags.get("duration");
  const duration = typeof durationFlag === "string" ? Number(durationFlag) : quick ? 2 : 5;
  if (!Number.isFinite(duration) || duration <= 0 || duration > 600) {
    throw new Error(`--duration must be a number of seconds in (0, 600], not ${String(durationFlag)}`);
  }

  const pairsFlag = flags.get("pairs");
  const pairs = typeof pairsFlag === "string" ? Number(pairsFlag) : quick ? 1 : 3;
  if (!Number.isSafeInteger(pairs) || pairs < 1 || pairs > 9) {
    throw new Error(`--pairs must be a whole number from 1 to 9, not ${String(pairsFlag)}`);
  }

  let sections = new Set<Section>(SECTIONS);
  const only = flags.get("only");
  if (only !== undefined) {
    if (only === true) throw new Error(`--only needs a list: ${SECTIONS.join(", ")}`);
    const wanted = only.split(",").filter(Boolean);
    const unknown = wanted.filter((s) => !(SECTIONS as readonly string[]).includes(s));
    if (unknown.length > 0) throw new Error(`unknown section(s) ${unknown.join(", ")}; known: ${SECTIONS.join(", ")}`);
    sections = new Set(wanted as Section[]);
  }

  const prof = flags.get("cpu-prof");
  const cpuProfDir =
    prof === undefined
      ? undefined
      : typeof prof === "string"
        ? resolve(prof)
        : join(tmpdir(), `pkiserver-cpu-prof-${new Date().toISOString().replace(/[:.]/g, "-")}`);

  const scale = quick ? 10 : 1;
  const soakFlag = flags.get("soak");
  const soakGrants = typeof soakFlag === "string" ? Number(soakFlag) : 100_000 / scale;
  if (!Number.isSafeInteger(soakGrants) || soakGrants < 100) {
    throw new Error(`--soak=GRANTS must be a whole number of at least 100, not ${String(soakFlag)}`);
  }
  return {
    duration,
    pairs,
    // Twenty cells: shorter than a row keeps the default run near four minutes.
    cellDuration: Math.max(1, Math.round(duration * 0.6)),
    quick,
    sections,
    historyRecords: 100_000 / scale,
    grantsBefore: 10_000 / scale,
    grantSample: 200,
    auditEvents: 100_000 / scale,
    proofLogEntries: 1_000_000 / scale,
    postgres: flags.has("postgres"),
    soak: flags.has("soak")
      ? { grants: soakGrants, reads: soakGrants * 10, distributed: flags.has("distributed") }
      : false,
    cpuProfDir,
    nodeArgs: (env.PMX_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean),
  };
}
