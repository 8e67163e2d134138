import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { freePort } from "@pkiserver/server";
import { bearer } from "../support/client";
import { randomPubKey } from "../support/keys";

// A lean keep-alive client: the generator shares two cores with the server,
// so every cycle it spends is one the server does not get.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
let nextId = 1;

async function ok<T = unknown>(
  url: string,
  method: string,
  params: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const body = JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params });
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(
      `${url}/main`,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
  const reply = JSON.parse(text) as { result?: T; error?: unknown };
  if (reply.error !== undefined) throw new Error(`${method} failed: ${JSON.stringify(reply.error)}`);
  return reply.result as T;
}

const ENTRY = join(__dirname, "..", "..", "..", "services", "server", "dist", "embedded.js");

/**
 * The server as `npm start` runs it, in a process of its own so the load
 * generator does not share its event loop. Extra node flags (e.g.
 * `--cpu-prof`) come from PMX_BENCH_NODE_ARGS.
 */
async function startServer(): Promise<{ url: string; key: { id: string; secret: string }; stop(): Promise<void> }> {
  const port = await freePort();
  const nodeArgs = (process.env.PMX_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ENTRY], {
    env: {
      PATH: process.env.PATH ?? "",
      PMX_PORT: String(port),
      PMX_HOST: "127.0.0.1",
      PMX_LOG_LEVEL: "warn",
      PMX_RATE_LIMIT_PER_MINUTE: "0",
      // With these set, the figures are for MongoDB and NATS instead of memory.
      ...Object.fromEntries(
        ["PMX_MONGO_URL", "PMX_MONGO_DB", "PMX_NATS_URL", "PMX_NATS_PREFIX", "PMX_SECRET_KEY"]
          .filter((k) => process.env[k])
          .map((k) => [k, process.env[k] as string]),
      ),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const deadline = Date.now() + 60_000;
  while (!/API_KEY_SECRET=\S+/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const id = /API_KEY_ID=(\S+)/.exec(out)?.[1] as string;
  const secret = /API_KEY_SECRET=(\S+)/.exec(out)?.[1] as string;
  return {
    url: `http://127.0.0.1:${port}`,
    key: { id, secret },
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGINT");
      }),
  };
}

/**
 * `npm run bench`: figures for the embedded form on this machine. Prints
 * latency percentiles and throughput; it asserts nothing (the machine is
 * shared and noisy), it reports.
 */

interface Figures {
  name: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  perSecond: number;
}

async function measure(
  name: string,
  n: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<Figures> {
  const times: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        times.push(performance.now() - t0);
      }
    }),
  );
  const total = performance.now() - start;
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0;
  return { name, n, p50: q(0.5), p95: q(0.95), p99: q(0.99), perSecond: (n / total) * 1000 };
}

function print(f: Figures): void {
  const ms = (x: number) => `${x.toFixed(2)} ms`.padStart(10);
  process.stdout.write(
    `${f.name.padEnd(44)} n=${String(f.n).padStart(5)}  p50${ms(f.p50)}  p95${ms(f.p95)}  p99${ms(f.p99)}  ${f.perSecond.toFixed(0).padStart(6)}/s\n`,
  );
}

async function main(): Promise<void> {
  const sys = await startServer();
  const first = { apiKeyId: sys.key.id, apiKeySecret: sys.key.secret };
  try {
    const token = await ok<{ accessToken: string }>(sys.url, "auth/token", {
      grantType: "client_credentials",
      clientId: first.apiKeyId,
      clientSecret: first.apiKeySecret,
      scope: [],
    });
    const h = bearer(token.accessToken);
    const instanceId = randomPubKey();

    // Two histories, one short and one long, to compare lookups by time.
    const histories: { label: string; ref: object; dates: number[] }[] = [];
    for (const length of [10, 2000]) {
      const ref = { userId: `bench-${length}`, instanceId, contextId: `ctx-${randomBytes(3).toString("hex")}` };
      for (let i = 0; i < length; i++) await ok(sys.url, "pkiAdmin/setKey", { ...ref, userPubKey: randomPubKey() }, h);
      const history = await ok<{ createDate: number }[]>(sys.url, "pki/getKeyHistory", ref, h);
      histories.push({ label: `history of ${length}`, ref, dates: history.map((r) => r.createDate) });
    }

    // Inputs are made before timing starts: making a secp256k1 key costs more than a lookup.
    const otherKeys = Array.from({ length: 256 }, () => randomPubKey());
    const newKeys = Array.from({ length: 500 }, () => randomPubKey());
    process.stdout.write(
      `\npkiserver benchmark (embedded form in its own process, ${process.env.PMX_MONGO_URL ? "MongoDB" : "in-memory stores"}, ${new Date().toISOString()})\n\n`,
    );
    for (const { label, ref, dates } of histories) {
      print(
        await measure(`pki/getKeyAt, ${label}`, 2000, 16, (i) =>
          ok(sys.url, "pki/getKeyAt", { ...ref, date: dates[i % dates.length] }, h),
        ),
      );
      print(
        await measure(`pki/verifyKey, ${label}`, 2000, 16, (i) =>
          ok(
            sys.url,
            "pki/verifyKey",
            { ...ref, userPubKey: otherKeys[i % otherKeys.length], date: dates[i % dates.length] },
            h,
          ),
        ),
      );
    }
    print(
      await measure("pkiAdmin/setKey (one history, 8 concurrent)", 500, 8, (i) =>
        ok(
          sys.url,
          "pkiAdmin/setKey",
          { userId: "bench-writes", instanceId, contextId: "ctx-w", userPubKey: newKeys[i] },
          h,
        ),
      ),
    );
    print(await measure("pkiAdmin/listHosts (bearer token)", 2000, 16, () => ok(sys.url, "pkiAdmin/listHosts", {}, h)));
    // Last: every grant opens a session, and the 17th closes the one `h` belongs to.
    print(
      await measure("auth/token client_credentials", 300, 8, () =>
        ok(sys.url, "auth/token", {
          grantType: "client_credentials",
          clientId: first.apiKeyId,
          clientSecret: first.apiKeySecret,
          scope: ["pki:read"],
        }),
      ),
    );
    process.stdout.write("\n");
  } finally {
    agent.destroy();
    await sys.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
