import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { type LocalServer, type LocalServerOptions, startServer, which } from "./local";

/** A throwaway PostgreSQL cluster this harness started. */
export interface LocalPostgres extends LocalServer {
  /** `postgres --version`, e.g. "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)". */
  readonly version: string;
}

const USER = "pkiserver";
const DATABASE = "pkiserver";

/**
 * The directory holding initdb and postgres: PMX_POSTGRES_BIN_DIR, else
 * Debian's newest /usr/lib/postgresql/<major>/bin, else where `initdb` on PATH
 * really lives. Undefined when PostgreSQL is not installed.
 */
export function findPostgresBinDir(): string | undefined {
  const explicit = process.env.PMX_POSTGRES_BIN_DIR;
  if (explicit) return explicit;
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const majors = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0] !== undefined) return join(debian, majors[0], "bin");
  }
  const onPath = which("initdb");
  return onPath ? dirname(realpathSync(onPath)) : undefined;
}

export function postgresMissingMessage(): string {
  return (
    "PostgreSQL is not installed: `apt-get install -y postgresql` (Debian), " +
    "or set PMX_POSTGRES_BIN_DIR to the directory holding initdb and postgres"
  );
}

/**
 * initdb and postgres refuse to run as root: as root the cluster runs as the
 * `postgres` user the Debian package creates.
 */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error("PostgreSQL cannot run as root and there is no `postgres` user to run it as");
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Starts a PostgreSQL cluster of its own (initdb into a temporary directory,
 * then postgres on 127.0.0.1 and a free port, trust authentication) with one
 * empty database; `url` is its connection string. The data is a throwaway:
 * fsync is off. Killed when the process exits, like the other local servers.
 */
export async function startLocalPostgres(opts: LocalServerOptions = {}): Promise<LocalPostgres> {
  const binDir = opts.bin ? dirname(opts.bin) : findPostgresBinDir();
  if (!binDir) throw new Error(postgresMissingMessage());
  const user = serverUser();
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const version = execFileSync(join(binDir, "postgres"), ["--version"], { encoding: "utf8", ...asUser }).trim();
  const server = await startServer(
    {
      kind: "postgres",
      bin: join(binDir, "postgres"),
      prepare: (dir) => {
        execFileSync(
          join(binDir, "initdb"),
          ["-D", join(dir, "data"), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
          { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LC_ALL: "C" }, ...asUser },
        );
      },
      args: (port, dir) => [
        "-D",
        join(dir, "data"),
        "-p",
        String(port),
        "-h",
        "127.0.0.1",
        "-k",
        dir,
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
      ],
      url: (port) => `postgres://${USER}@127.0.0.1:${port}/${DATABASE}`,
      ready: (port) => pgReady(binDir, port),
      // SIGTERM waits for every client to leave; SIGINT is the fast shutdown.
      stopSignal: "SIGINT",
      ...(user ? { user } : {}),
    },
    opts,
  );
  try {
    execFileSync(join(binDir, "createdb"), ["-h", "127.0.0.1", "-p", String(server.port), "-U", USER, DATABASE], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (err) {
    await server.dispose();
    throw err;
  }
  return { ...server, version };
}

/** pg_isready exits 0 once the server accepts connections. */
function pgReady(binDir: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    execFile(join(binDir, "pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(port)], (err) => res(err === null));
  });
}
