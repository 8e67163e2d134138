import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { freePort, startDistributed, stopProcess } from "@pkiserver/server";
import {
  findPostgresBinDir,
  type LocalServer,
  postgresMissingMessage,
  startLocalMongo,
  startLocalNats,
  startLocalPostgres,
  startSharedInfra,
} from "@pkiserver/test-harness";

import { distributedEnv, SERVER_TEST_ENV } from "../support/server-env";

const ROOT = join(__dirname, "..", "..", "..");
/** PMX_BENCH_EMBEDDED runs another build's one-process entry instead (to compare builds in one run). */
const EMBEDDED = process.env.PMX_BENCH_EMBEDDED || join(ROOT, "services", "server", "dist", "embedded.js");
const ECHO = join(__dirname, "echo.js");

/** A process whose memory the soak follows. */
export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
}

/** A running form of the server under test. */
export interface System {
  readonly form: "embedded" | "distributed";
  /** What it stores in, for the report. */
  readonly storage: string;
  readonly url: string;
  readonly firstKey: { readonly id: string; readonly secret: string };
  /** The distributed form's database, which rows may fill directly. */
  readonly mongo?: { readonly url: string; readonly db: string };
  processes(): ServerProcess[];
  /** The last lines the server processes wrote, for a failure report. */
  recentOutput(): string;
  stop(): Promise<void>;
}

/**
 * Configuration every server under test gets (the rate limits off, free gRPC
 * ports), with logs at warn so that log writing is not what is measured.
 */
export const BENCH_ENV: Readonly<Record<string, string>> = { ...SERVER_TEST_ENV, PMX_LOG_LEVEL: "warn" };

/** Node flags for a server process: PMX_BENCH_NODE_ARGS, and a CPU profile per section when asked. */
export function nodeFlags(base: readonly string[], cpuProfDir: string | undefined, section: string): string[] {
  if (cpuProfDir === undefined) return [...base];
  return [...base, "--cpu-prof", `--cpu-prof-dir=${profileDir(cpuProfDir, section)}`];
}

/** The directory of one section's profiles, made if needed. */
export function profileDir(cpuProfDir: string, section: string): string {
  const dir = join(cpuProfDir, section);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Puts each process's name in front of its profiles' file names (node names them
 * `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`).
 */
export function nameProfiles(dir: string, processes: readonly ServerProcess[]): void {
  for (const file of readdirSync(dir)) {
    const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(file)?.[1]);
    const name = processes.find((p) => p.pid === pid)?.name;
    if (name !== undefined) renameSync(join(dir, file), join(dir, `${name}.${file}`));
  }
}

class OutputTail {
  private readonly lines: string[] = [];
  private partial = "";
  push(chunk: string, prefix = ""): void {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    for (const line of parts) this.line(prefix + line);
  }
  line(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 40) this.lines.shift();
  }
  toString(): string {
    return this.lines.join("\n");
  }
}

// Servers must not outlive the bench, also when it fails or is interrupted.
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const p of launchedProcesses()) process.kill(p.pid, "SIGKILL");
});

/** Spawns a node process and waits until its output matches `ready`. */
async function spawnNode(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  what: string,
  readyWithinMs = 60_000,
): Promise<{ child: ChildProcess; output: () => string; tail: OutputTail }> {
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let output = "";
  const tail = new OutputTail();
  const keep = (c: Buffer) => {
    const text = c.toString("utf8");
    if (output.length < 64_000) output += text;
    tail.push(text);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const deadline = Date.now() + readyWithinMs;
  while (!ready.test(output)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${what} did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => output, tail };
}

/** The baseline: a bare fastify server in a process of its own (echo.ts). */
export async function startEcho(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const { child } = await spawnNode(
    [ECHO],
    { PATH: process.env.PATH ?? "", PORT: String(port) },
    /echo listening/,
    "the echo server",
  );
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    stop: () => stopProcess(child, "SIGTERM", 15_000),
  };
}

/**
 * The server as `npm start` runs it (services/server/dist/embedded.js), in a
 * process of its own so the load generator does not share its event loop.
 * With PMX_MONGO_URL (and PMX_SECRET_KEY, PMX_NATS_URL) set in the bench's
 * environment it runs on those instead of in-memory stores. `readyWithinMs`: longer for a
 * server that fills its log before it is ready (PMX_TEST_LOG_FILL).
 */
export async function startEmbedded(
  nodeArgs: readonly string[],
  extraEnv: Readonly<Record<string, string>> = {},
  readyWithinMs = 60_000,
): Promise<System> {
  const port = await freePort();
  const passed = [
    "PMX_MONGO_URL",
    "PMX_MONGO_DB",
    "PMX_NATS_URL",
    "PMX_NATS_PREFIX",
    "PMX_SECRET_KEY",
    // A soak longer than an access token's life shows memory once revocations age out.
    "PMX_ACCESS_TOKEN_LIFETIME",
  ];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    ...BENCH_ENV,
    PMX_PORT: String(port),
    ...Object.fromEntries(passed.filter((k) => process.env[k]).map((k) => [k, process.env[k] as string])),
    ...extraEnv,
  };
  const { child, output, tail } = await spawnNode(
    [...nodeArgs, EMBEDDED],
    env,
    /API_KEY_SECRET=\S+/,
    "the embedded server",
    readyWithinMs,
  );
  const text = output();
  const pid = child.pid as number;
  return {
    form: "embedded",
    storage: /listening on \S+\s+\(([^)]*)\)/.exec(text)?.[1] ?? "?",
    url: `http://127.0.0.1:${port}`,
    firstKey: {
      id: /API_KEY_ID=(\S+)/.exec(text)?.[1] as string,
      secret: /API_KEY_SECRET=(\S+)/.exec(text)?.[1] as string,
    },
    processes: () => [{ name: "embedded", pid }],
    recentOutput: () => tail.toString(),
    // SIGINT as Ctrl-C: a graceful stop, which also writes a --cpu-prof profile.
    stop: () => stopProcess(child, "SIGINT", 15_000),
  };
}

/** Where the distributed form keeps its data and events. */
export interface Infra {
  readonly mongoUrl: string;
  readonly natsUrl: string;
  readonly description: string;
  stop(): Promise<void>;
}

/**
 * The test harness's MongoDB-compatible server and nats-server (FerretDB on
 * SQLite unless PMX_TEST_MONGO_URL, a Docker engine or mongod says otherwise);
 * with `postgres`, the FerretDB program on a throwaway PostgreSQL cluster.
 * Undefined, after saying why, when PostgreSQL is not installed.
 */
export async function startInfra(postgres: boolean, say: (line: string) => void): Promise<Infra | undefined> {
  if (!postgres) {
    const shared = await startSharedInfra({ build: true });
    const sqlite = /from local ferretdb/.test(shared.description) ? " (FerretDB's SQLite handler)" : "";
    return { ...shared, description: `${shared.description}${sqlite}` };
  }
  const started: LocalServer[] = [];
  const stop = async () => {
    for (const s of started.reverse()) await s.dispose().catch(() => {});
  };
  try {
    if (findPostgresBinDir() === undefined) {
      say(`skipped: the PostgreSQL backend needs PostgreSQL. ${postgresMissingMessage()}`);
      return undefined;
    }
    const pg = await startLocalPostgres();
    started.push(pg);
    const ferret = await startLocalMongo({ build: true, postgresqlUrl: pg.url });
    started.push(ferret);
    let natsUrl = process.env.PMX_TEST_NATS_URL;
    if (!natsUrl) {
      const nats = await startLocalNats({ build: true });
      started.push(nats);
      natsUrl = nats.url;
    }
    return {
      mongoUrl: ferret.url,
      natsUrl,
      description: `FerretDB on ${pg.version.replace(/^postgres \(PostgreSQL\)/, "PostgreSQL")} (throwaway cluster, fsync off); nats-server`,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The node processes the launcher started for the distributed form: children of this process. */
function launchedProcesses(): ServerProcess[] {
  const found: ServerProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may hold spaces and parentheses: fields resume after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const main = cmd.find((a) => a.endsWith(join("dist", "main.js")));
      if (!main) continue;
      const name = /(apikey|auth|pki|audit|gateway)[\\/]dist[\\/]main\.js$/.exec(main)?.[1] ?? main;
      found.push({ name, pid: Number(entry) });
    } catch {
      // gone meanwhile
    }
  }
  const order = ["gateway", "apikey", "auth", "pki", "audit"];
  return found.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
}

/**
 * The four processes of the distributed form, started by the same launcher as
 * `npm run start:distributed`, on `infra`, with a fresh database and subject
 * prefix. Node flags reach its processes through `NODE_OPTIONS` in `extraEnv`.
 */
export async function startDistributedForm(infra: Infra, extraEnv: Record<string, string> = {}): Promise<System> {
  const name = `bench_${randomBytes(5).toString("hex")}`;
  const tail = new OutputTail();
  const system = await startDistributed({
    env: { ...BENCH_ENV, ...(await distributedEnv(infra, name)), ...extraEnv },
    onOutput: (proc, line) => tail.line(`[${proc}] ${line}`),
  });
  if (!system.firstKey) {
    await system.stop();
    throw new Error(`the distributed form did not create a first key:\n${tail.toString()}`);
  }
  return {
    form: "distributed",
    storage: infra.description,
    url: system.url,
    firstKey: { id: system.firstKey.apiKeyId, secret: system.firstKey.apiKeySecret },
    mongo: { url: infra.mongoUrl, db: name },
    processes: launchedProcesses,
    recentOutput: () => tail.toString(),
    stop: () => system.stop(),
  };
}

/** Resident set size of a process in MiB, from /proc (undefined once it is gone). */
export function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}
