import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { writeDevTls } from "./dev-certs";

/** Where a built process's entry file is, relative to the repository root. */
const ROOT = join(__dirname, "..", "..", "..");
const ENTRIES = {
  apikey: join(ROOT, "services", "apikey", "dist", "main.js"),
  auth: join(ROOT, "services", "auth", "dist", "main.js"),
  pki: join(ROOT, "services", "pki", "dist", "main.js"),
  audit: join(ROOT, "services", "audit", "dist", "main.js"),
  gateway: join(ROOT, "gateway", "dist", "main.js"),
} as const;
export type ProcessName = keyof typeof ENTRIES;

export interface DistributedSystem {
  readonly url: string;
  readonly firstKey: { apiKeyId: string; apiKeySecret: string } | undefined;
  /** Stops every process and starts them again on the same ports and stores. */
  restart(): Promise<void>;
  /**
   * Ends one process with `signal` (SIGTERM by default: a graceful stop;
   * SIGKILL: a crash) and starts it again on the same port, with `env` added
   * to its environment, once it has exited; resolves when the gateway is ready.
   */
  restartProcess(name: ProcessName, opts?: { signal?: NodeJS.Signals; env?: Record<string, string> }): Promise<void>;
  /** Starts one more gateway replica in front of the same services (stopped with the rest). */
  startExtraGateway(): Promise<{ url: string; stop(): Promise<void> }>;
  stop(): Promise<void>;
}

/** A port of 127.0.0.1 that nothing listened on a moment ago, for a server the caller starts next. */
export async function freePort(): Promise<number> {
  // Below the ephemeral range (32768 and up on Linux, 49152 on others): a port the OS hands out
  // for port 0 or for an outgoing connection could be taken again between this check and the
  // caller's bind. A random pick keeps parallel callers apart.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = FREE_PORT_MIN + Math.floor(Math.random() * (FREE_PORT_MAX - FREE_PORT_MIN + 1));
    if (await canListen(port)) return port;
  }
  return listenPort(0);
}

/** The range `freePort` picks from. */
const FREE_PORT_MIN = 20_000;
const FREE_PORT_MAX = 32_767;

async function canListen(port: number): Promise<boolean> {
  try {
    await listenPort(port);
    return true;
  } catch {
    return false;
  }
}

/** Listens on `port` of 127.0.0.1 (0: any), closes, and resolves with the port it had. */
function listenPort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const addr = srv.address();
      const bound = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(bound));
    });
  });
}

async function waitReady(
  url: string,
  timeoutMs: number,
  procs: Map<ProcessName, ChildProcess>,
  lastLines: (name: ProcessName) => readonly string[] = () => [],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastReport: string | undefined;
  while (Date.now() < deadline) {
    for (const [name, p] of procs) {
      if (p.exitCode !== null) {
        // What the process said last is why it stopped; without it the failure cannot be told apart.
        const said = lastLines(name);
        throw new Error(
          `${name} exited with code ${p.exitCode} during start${said.length > 0 ? `:\n${said.join("\n")}` : ""}`,
        );
      }
    }
    try {
      const res = await fetch(`${url}/ready`);
      if (res.status === 200) return;
      // Which checks fail (services, bus, signing keys, revocations): said if it never gets ready.
      lastReport = (await res.text()).slice(0, 500);
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(
    `the gateway at ${url} was not ready within ${timeoutMs} ms${lastReport ? `; /ready said ${lastReport}` : ""}`,
  );
}

/** Sends `signal` to a child process and waits for its exit; SIGKILL ends it after `graceMs`. */
export function stopProcess(p: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => p.kill("SIGKILL"), graceMs);
    p.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    p.kill(signal);
  });
}

/** Waits until something accepts TCP connections at `host:port`. */
async function waitListening(address: string, timeoutMs: number, p: ChildProcess): Promise<void> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(":")),
    Number(address.slice(address.lastIndexOf(":") + 1)),
  ];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (p.exitCode !== null) throw new Error(`process exited with code ${p.exitCode} during start`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened at ${address} within ${timeoutMs} ms`);
}

/**
 * Starts the five processes of the distributed form locally (apikey, auth,
 * pki, audit, gateway), each configured by env as in a deployment. MongoDB and NATS
 * come from PMX_MONGO_URL / PMX_NATS_URL, which are required. The processes
 * speak mutual TLS to each other: with the PMX_GRPC_TLS_* files given, or
 * else with a throwaway CA and certificate made here (removed at stop).
 */
export async function startDistributed(opts: {
  env: Record<string, string | undefined>;
  /** Receives every output line of every process, prefixed with its name. */
  onOutput?: (name: string, line: string) => void;
  readyTimeoutMs?: number;
}): Promise<DistributedSystem> {
  const env = { ...opts.env };
  const missing = ["PMX_MONGO_URL", "PMX_NATS_URL"].filter((k) => !env[k]);
  if (missing.length > 0) throw new Error(`the distributed form needs ${missing.join(" and ")}`);
  const printFirstKey = !env.PMX_INITIALIZATION_TOKEN;
  if (printFirstKey) env.PMX_INITIALIZATION_TOKEN = randomBytes(32).toString("base64url");
  if (!env.PMX_SECRET_KEY) {
    throw new Error("the distributed form stores secrets in MongoDB: set PMX_SECRET_KEY (kid:base64 of 32 bytes)");
  }
  const tls = env.PMX_GRPC_TLS_CERT || env.PMX_GRPC_TLS_KEY || env.PMX_GRPC_TLS_CA ? undefined : writeDevTls();
  const [apikeyPort, authPort, pkiPort, auditPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const gatewayPort = env.PMX_PORT ? Number(env.PMX_PORT) : 8101;
  const shared = {
    ...env,
    ...tls?.env,
    PMX_APIKEY_LISTEN: `127.0.0.1:${apikeyPort}`,
    PMX_AUTH_LISTEN: `127.0.0.1:${authPort}`,
    PMX_PKI_LISTEN: `127.0.0.1:${pkiPort}`,
    PMX_AUDIT_LISTEN: `127.0.0.1:${auditPort}`,
    PMX_APIKEY_ADDR: `127.0.0.1:${apikeyPort}`,
    PMX_AUTH_ADDR: `127.0.0.1:${authPort}`,
    PMX_PKI_ADDR: `127.0.0.1:${pkiPort}`,
    PMX_AUDIT_ADDR: `127.0.0.1:${auditPort}`,
    PMX_PORT: String(gatewayPort),
    PMX_HOST: env.PMX_HOST ?? "127.0.0.1",
    // Set once for every process: the default issuer follows PMX_PORT, and an
    // extra gateway listens on a port of its own yet must accept the same tokens.
    PMX_ISSUER: env.PMX_ISSUER || `http://localhost:${gatewayPort}`,
  };
  const url = `http://127.0.0.1:${gatewayPort}`;
  let procs = new Map<ProcessName, ChildProcess>();

  /** The last lines each process wrote (at most 20), for the error when one stops during start. */
  const recent = new Map<ProcessName, string[]>();
  const lastLines = (name: ProcessName) => recent.get(name) ?? [];
  const spawnProcess = (name: ProcessName, env: Record<string, string | undefined>) => {
    recent.set(name, []);
    const child = spawn(process.execPath, [ENTRIES[name]], { env, stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [child.stdout, child.stderr]) {
      let buf = "";
      stream?.on("data", (chunk: Buffer) => {
        buf += chunk.toString("utf8");
        let nl = buf.indexOf("\n");
        while (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          opts.onOutput?.(name, line);
          const kept = recent.get(name);
          if (kept !== undefined) {
            kept.push(line);
            if (kept.length > 20) kept.shift();
          }
          nl = buf.indexOf("\n");
        }
      });
    }
    return child;
  };
  const extras: ChildProcess[] = [];

  const launch = async () => {
    procs = new Map();
    for (const name of Object.keys(ENTRIES) as ProcessName[]) procs.set(name, spawnProcess(name, shared));
    await waitReady(url, opts.readyTimeoutMs ?? 60_000, procs, lastLines);
  };
  const stopAll = async () => {
    for (const extra of extras.splice(0)) await stopProcess(extra);
    // Gateway first, so no request reaches a service that is going away.
    const order: ProcessName[] = ["gateway", "audit", "auth", "pki", "apikey"];
    for (const name of order) {
      const p = procs.get(name);
      if (p) await stopProcess(p);
    }
  };

  const stopAndClean = async () => {
    await stopAll();
    tls?.remove();
  };
  try {
    await launch();
  } catch (err) {
    await stopAndClean();
    throw err;
  }

  let firstKey: DistributedSystem["firstKey"];
  if (printFirstKey) {
    const res = await fetch(`${url}/main`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "auth/createFirstApiKey",
        params: { initializationToken: env.PMX_INITIALIZATION_TOKEN, name: "first key" },
      }),
    });
    const reply = (await res.json()) as { result?: { apiKeyId: string; apiKeySecret: string } };
    firstKey = reply.result;
  }
  return {
    url,
    firstKey,
    restart: async () => {
      await stopAll();
      await launch();
    },
    restartProcess: async (name, { signal = "SIGTERM", env: extra = {} } = {}) => {
      const old = procs.get(name);
      if (old) await stopProcess(old, signal);
      const child = spawnProcess(name, { ...shared, ...extra });
      procs.set(name, child);
      const timeoutMs = opts.readyTimeoutMs ?? 60_000;
      // The gateway may still call the old process ready for a moment; the
      // new one is up once its port answers (it listens last, when built).
      const listen = {
        apikey: shared.PMX_APIKEY_LISTEN,
        auth: shared.PMX_AUTH_LISTEN,
        pki: shared.PMX_PKI_LISTEN,
        audit: shared.PMX_AUDIT_LISTEN,
      };
      if (name !== "gateway") await waitListening(listen[name], timeoutMs, child);
      await waitReady(url, timeoutMs, procs, lastLines);
    },
    startExtraGateway: async () => {
      const port = await freePort();
      const child = spawnProcess("gateway", { ...shared, PMX_PORT: String(port) });
      extras.push(child);
      const extraUrl = `http://127.0.0.1:${port}`;
      await waitReady(extraUrl, opts.readyTimeoutMs ?? 60_000, new Map([["gateway", child]]));
      return { url: extraUrl, stop: () => stopProcess(child) };
    },
    stop: stopAndClean,
  };
}
