import { Agent, request } from "node:http";

// Setup calls (tokens, keys, building histories) go through one keep-alive
// agent; the measured load goes through autocannon.
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
let nextId = 1;

export interface RpcCall {
  readonly method: string;
  readonly params: unknown;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: { code: number; message: string; data: unknown };
}

function post(url: string, body: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
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
}

function failure(method: string, reply: Reply | undefined): Error {
  return new Error(`${method} failed: ${JSON.stringify(reply?.error ?? reply)}`);
}

/** The result of one call that must succeed. */
export async function rpc<T = unknown>(
  url: string,
  method: string,
  params: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const text = await post(url, JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }), headers);
  const reply = JSON.parse(text) as Reply;
  if (reply.error !== undefined || !("result" in reply)) throw failure(method, reply);
  return reply.result as T;
}

/** Up to 100 calls in one JSON-RPC batch; every one must succeed. Results in call order. */
export async function batch<T = unknown>(
  url: string,
  calls: readonly RpcCall[],
  headers: Record<string, string> = {},
): Promise<T[]> {
  const first = nextId;
  nextId += calls.length;
  const body = JSON.stringify(
    calls.map((c, i) => ({ jsonrpc: "2.0", id: first + i, method: c.method, params: c.params })),
  );
  const text = await post(url, body, headers);
  const parsed = JSON.parse(text) as Reply[] | Reply;
  if (!Array.isArray(parsed)) throw failure(calls[0]?.method ?? "batch", parsed);
  const byId = new Map(parsed.map((r) => [r.id, r]));
  return calls.map((c, i) => {
    const reply = byId.get(first + i);
    if (reply === undefined || reply.error !== undefined) throw failure(c.method, reply);
    return reply.result as T;
  });
}

/** Runs `count` tasks, at most `lanes` at a time; task i gets its lane number. */
export async function inLanes(count: number, lanes: number, task: (i: number, lane: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, count) }, async (_, lane) => {
      while (next < count) await task(next++, lane);
    }),
  );
}

export function closeRpc(): void {
  agent.destroy();
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
