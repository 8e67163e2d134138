import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { MongoClient } from "mongodb";

/** A server process this harness started; it is killed when the test process exits. */
export interface LocalServer {
  readonly url: string;
  readonly port: number;
  /** The server's data directory; kept across stop/restart. */
  readonly dataDir: string;
  /** What runs: e.g. "nats-server", "mongod", "ferretdb". */
  readonly kind: string;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s); data is kept. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data, and waits until it answers. */
  restart(): Promise<void>;
  /** Stops it and deletes its data directory. */
  dispose(): Promise<void>;
}

export interface LocalServerOptions {
  /** Executable to run instead of the one found on PATH. */
  bin?: string;
  /** Port to listen on; a free one by default. */
  port?: number;
  /** How long to wait for the server to answer; 30 s by default. */
  readyTimeoutMs?: number;
}

export interface LocalMongoOptions extends LocalServerOptions {
  /** When no binary is found, build the FerretDB program (needs Go; minutes on a cold cache). */
  build?: boolean;
  /**
   * FerretDB only: keep the data in this PostgreSQL database (its PostgreSQL
   * handler) instead of SQLite files in the data directory.
   */
  postgresqlUrl?: string;
}

const repoRoot = resolve(__dirname, "..", "..", "..");
const ferretSource = join(repoRoot, "test", "infra", "ferretdb");
const ferretBuildScript = join(repoRoot, "test", "infra", "build-ferretdb.sh");

/** A TCP port nothing listens on right now. */
export function freeport(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? res(port) : rej(new Error("no free port"))));
    });
  });
}

/** The absolute path of `name` on PATH, if it is there and executable. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** Where build-ferretdb.sh puts the binary for the current sources (same key as the script). */
export function ferretdbCachePath(): string | undefined {
  try {
    const hash = createHash("sha256");
    const goFiles = readdirSync(ferretSource)
      .filter((f) => f.endsWith(".go"))
      .sort();
    for (const f of ["go.mod", "go.sum", ...goFiles]) hash.update(readFileSync(join(ferretSource, f)));
    const cache = process.env.PMX_CACHE_DIR || join(process.env.HOME ?? tmpdir(), ".cache", "pkiserver");
    return join(cache, `ferretdb-${hash.digest("hex").slice(0, 16)}`, "ferretdb");
  } catch {
    return undefined;
  }
}

const natsVersionFile = join(repoRoot, "test", "infra", "nats-server.version");
const natsBuildScript = join(repoRoot, "test", "infra", "build-nats-server.sh");

/** Where build-nats-server.sh puts the binary for the pinned version (same path as the script). */
export function natsCachePath(): string | undefined {
  try {
    const version = readFileSync(natsVersionFile, "utf8").trim();
    const cache = process.env.PMX_CACHE_DIR || join(process.env.HOME ?? tmpdir(), ".cache", "pkiserver");
    return join(cache, `nats-server-${version}`, "nats-server");
  } catch {
    return undefined;
  }
}

/**
 * The nats-server binary: PMX_NATS_SERVER_BIN, then `nats-server` on PATH,
 * then a cached build; with `build`, one is built from its Go module (about
 * half a minute, once).
 */
export function findNatsBinary(opts: { build?: boolean } = {}): string | undefined {
  return findBinary("PMX_NATS_SERVER_BIN", "nats-server", natsCachePath, natsBuildScript, opts.build);
}

/**
 * A server binary: the one `envVar` names, then `name` on PATH, then the
 * build at `cachePath()`; with `build` (and Go), a new build by `buildScript`, which
 * prints its path.
 */
function findBinary(
  envVar: string,
  name: string,
  cachePath: () => string | undefined,
  buildScript: string,
  build: boolean | undefined,
): string | undefined {
  const explicit = process.env[envVar];
  if (explicit) return explicit;
  const onPath = which(name);
  if (onPath) return onPath;
  const cached = cachePath();
  if (cached && existsSync(cached)) return cached;
  if (build && which("go")) {
    return execFileSync(buildScript, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  }
  return undefined;
}

interface MongoBinary {
  kind: "mongod" | "ferretdb";
  bin: string;
}

/** The MongoDB-compatible server binary this machine offers, in the documented order. */
export function findMongoBinary(opts: { build?: boolean } = {}): MongoBinary | undefined {
  const explicit = process.env.PMX_FERRETDB_BIN;
  if (explicit) return { kind: "ferretdb", bin: explicit };
  const mongod = which("mongod");
  if (mongod) return { kind: "mongod", bin: mongod };
  const ferretdb = findFerretdbBinary(opts);
  return ferretdb ? { kind: "ferretdb", bin: ferretdb } : undefined;
}

/** The FerretDB test server: PMX_FERRETDB_BIN, `ferretdb` on PATH, the cached build, or (with `build`) a new build. */
export function findFerretdbBinary(opts: { build?: boolean } = {}): string | undefined {
  return findBinary("PMX_FERRETDB_BIN", "ferretdb", ferretdbCachePath, ferretBuildScript, opts.build);
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let exitHookInstalled = false;

// Children are unref'd so a test process can end on its own; this hook makes
// sure they do not outlive it.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** How to run one kind of server (for startServer). */
export interface Spec {
  kind: string;
  bin: string;
  args: (port: number, dataDir: string) => string[];
  url: (port: number) => string;
  ready: (port: number) => Promise<boolean>;
  /** Runs once in the fresh data directory, before the first start. */
  prepare?: (dataDir: string) => void;
  /** The user the server runs as, when not this process's (e.g. PostgreSQL refuses root). */
  user?: { uid: number; gid: number };
  /** The signal that stops it; SIGTERM by default. */
  stopSignal?: NodeJS.Signals;
}

/** Starts a server of this kind on a free port with a fresh data directory (removed at exit). */
export async function startServer(spec: Spec, opts: LocalServerOptions): Promise<LocalServer> {
  installExitHook();
  const port = opts.port ?? (await freeport());
  const dataDir = mkdtempSync(join(tmpdir(), `pkiserver-${spec.kind}-`));
  dirs.add(dataDir);
  if (spec.user) chownSync(dataDir, spec.user.uid, spec.user.gid);
  spec.prepare?.(dataDir);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  let child: ChildProcess | undefined;

  const start = async () => {
    let output = "";
    let exited: string | undefined;
    const proc = spawn(spec.bin, spec.args(port, dataDir), {
      stdio: ["ignore", "pipe", "pipe"],
      ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
    });
    child = proc;
    live.add(proc);
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    proc.on("error", (err) => {
      exited = err.message;
    });
    proc.on("exit", (code, signal) => {
      live.delete(proc);
      exited ??= `exited with ${signal ?? code}`;
    });
    proc.unref();
    (proc.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (proc.stderr as unknown as { unref?: () => void } | null)?.unref?.();

    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (exited !== undefined) {
        throw new Error(`${spec.kind} (${spec.bin}) ${exited} before answering on port ${port}:\n${output}`);
      }
      if (await spec.ready(port)) return;
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`${spec.kind} did not answer on port ${port} within ${readyTimeoutMs} ms:\n${output}`);
      }
      await sleep(100);
    }
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((res) => proc.once("exit", () => res()));
    proc.kill(spec.stopSignal ?? "SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  };

  await start();
  return {
    url: spec.url(port),
    port,
    dataDir,
    kind: spec.kind,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
      dirs.delete(dataDir);
    },
  };
}

/** Starts `nats-server` with JetStream on 127.0.0.1 and a private store directory. */
export async function startLocalNats(opts: LocalServerOptions & { build?: boolean } = {}): Promise<LocalServer> {
  const bin = opts.bin ?? findNatsBinary(opts);
  if (!bin) throw new Error(natsMissingMessage());
  return startServer(
    {
      kind: "nats-server",
      bin,
      args: (port, dir) => ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
      url: (port) => `nats://127.0.0.1:${port}`,
      ready: natsAnswers,
    },
    opts,
  );
}

/** Starts `mongod`, or the FerretDB test server, on 127.0.0.1 with a private data directory. */
export async function startLocalMongo(opts: LocalMongoOptions = {}): Promise<LocalServer> {
  const pg = opts.postgresqlUrl;
  // Only the FerretDB program stores its data in PostgreSQL, even where mongod is installed.
  const ferretdb = pg === undefined ? undefined : findFerretdbBinary(opts);
  const found: MongoBinary | undefined = opts.bin
    ? { kind: opts.bin.endsWith("mongod") ? "mongod" : "ferretdb", bin: opts.bin }
    : ferretdb
      ? { kind: "ferretdb", bin: ferretdb }
      : findMongoBinary(opts);
  if (!found) throw new Error(mongoMissingMessage());
  if (pg !== undefined && found.kind !== "ferretdb") {
    throw new Error(`a PostgreSQL backend needs the FerretDB program, not ${found.bin}`);
  }
  const args =
    found.kind === "mongod"
      ? (port: number, dir: string) => ["--dbpath", dir, "--bind_ip", "127.0.0.1", "--port", String(port), "--quiet"]
      : (port: number, dir: string) => [
          "-listen",
          `127.0.0.1:${port}`,
          ...(pg === undefined ? ["-dir", dir] : ["-postgresql-url", pg]),
        ];
  return startServer(
    {
      kind: found.kind,
      bin: found.bin,
      args,
      url: (port) => `mongodb://127.0.0.1:${port}/`,
      ready: mongoAnswers,
    },
    opts,
  );
}

/** Starts `redis-server` (or `valkey-server`) on 127.0.0.1 with a private data directory and no persistence. */
export async function startLocalRedis(opts: LocalServerOptions = {}): Promise<LocalServer> {
  const bin = opts.bin ?? findRedisBinary();
  if (!bin) throw new Error(redisMissingMessage());
  return startServer(
    {
      kind: "redis-server",
      bin,
      args: (port, dir) => [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      url: (port) => `redis://127.0.0.1:${port}`,
      ready: redisAnswers,
    },
    opts,
  );
}

/** The redis-server binary: PMX_REDIS_SERVER_BIN, then `redis-server` or `valkey-server` on PATH. */
export function findRedisBinary(): string | undefined {
  const env = process.env.PMX_REDIS_SERVER_BIN;
  if (env) return env;
  return which("redis-server") ?? which("valkey-server");
}

export function redisMissingMessage(): string {
  return (
    "no Redis server for the rate-limit tests. Provide one of: " +
    "PMX_TEST_REDIS_URL=redis://host:port; " +
    "a running Docker engine (the redis:7 image); " +
    "`redis-server` or `valkey-server` on PATH (`apt-get install redis-server`) or PMX_REDIS_SERVER_BIN"
  );
}

/** redis-server answers PING with +PONG. */
function redisAnswers(port: number): Promise<boolean> {
  return firstLineIs(port, "PING\r\n", "+PONG");
}

export function natsMissingMessage(): string {
  return (
    "no NATS server for the integration tests. Provide one of: " +
    "PMX_TEST_NATS_URL=nats://host:port (JetStream enabled); " +
    "a running Docker engine (the nats:2 image is started with -js); " +
    "`nats-server` on PATH (`apt-get install nats-server`) or PMX_NATS_SERVER_BIN; " +
    "or build it once with `test/infra/build-nats-server.sh` (needs Go; `npm test` does this by itself)"
  );
}

export function mongoMissingMessage(): string {
  return (
    "no MongoDB-compatible server for the integration tests. Provide one of: " +
    "PMX_TEST_MONGO_URL=mongodb://host:port/; " +
    "a running Docker engine (the mongo:7 image); " +
    "`mongod` on PATH; " +
    "or a FerretDB binary: PMX_FERRETDB_BIN=/path/to/ferretdb, `ferretdb` on PATH, " +
    "or build it once with `test/infra/build-ferretdb.sh` (needs Go)"
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** nats-server greets every client with an INFO line. */
function natsAnswers(port: number): Promise<boolean> {
  return firstLineIs(port, undefined, "INFO ");
}

/**
 * Whether a server on this port answers (after `send`, when given) with a
 * first line starting with `prefix`, within a second.
 */
function firstLineIs(port: number, send: string | undefined, prefix: string): Promise<boolean> {
  return new Promise((res) => {
    const sock = tcpConnect({ host: "127.0.0.1", port });
    let buf = "";
    const done = (ok: boolean) => {
      sock.destroy();
      res(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on("error", () => done(false));
    if (send !== undefined) sock.on("connect", () => sock.write(send));
    sock.on("data", (d) => {
      buf += d.toString("utf8");
      if (buf.includes("\n")) done(buf.startsWith(prefix));
    });
  });
}

async function mongoAnswers(port: number): Promise<boolean> {
  const client = new MongoClient(`mongodb://127.0.0.1:${port}/`, {
    serverSelectionTimeoutMS: 1000,
    connectTimeoutMS: 1000,
    directConnection: true,
  });
  try {
    await client.connect();
    await client.db("admin").command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}
