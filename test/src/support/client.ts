import { randomBytes } from "node:crypto";
import { ed25519Sign, hmacSignature, requestSigningPayload } from "@pkiserver/kit";
import { type HttpReply, httpReply } from "@pkiserver/testing";
import WebSocket from "ws";

export interface RpcError {
  code: number;
  message: string;
  data: unknown;
}
export interface RpcReply {
  jsonrpc: "2.0";
  id: string | number | null;
  result?: unknown;
  error?: RpcError;
}

export type { HttpReply };

/** Sends a raw HTTP request to /main; the body is sent byte for byte. */
export async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  method = "POST",
): Promise<HttpReply> {
  const res = await fetch(`${url}/main`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(method === "GET" || method === "HEAD" ? {} : { body }),
  });
  return httpReply(res);
}

let nextId = 1;

/** One JSON-RPC call over HTTP; returns the reply object. */
export async function call(
  url: string,
  method: string,
  params: unknown = {},
  headers: Record<string, string> = {},
): Promise<RpcReply> {
  const id = nextId++;
  const reply = await post(url, JSON.stringify({ jsonrpc: "2.0", id, method, params }), headers);
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status} for ${method}: ${reply.text}`);
  return reply.json as RpcReply;
}

/** The result of a call that must succeed. */
export async function ok<T = unknown>(
  url: string,
  method: string,
  params: unknown = {},
  headers: Record<string, string> = {},
): Promise<T> {
  const reply = await call(url, method, params, headers);
  if (reply.error) throw new Error(`${method} failed: ${JSON.stringify(reply.error)}`);
  return reply.result as T;
}

/**
 * `ok`, retried while the gateway answers -32000 "Service unavailable" (HTTP
 * 503, as a client is told to do with Retry-After): for the moments after a
 * service restarts, before the gateway's channel to it is connected again.
 */
export async function okWhenAvailable<T = unknown>(
  url: string,
  method: string,
  params: unknown = {},
  headers: Record<string, string> = {},
  withinMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const id = nextId++;
    const reply = await post(url, JSON.stringify({ jsonrpc: "2.0", id, method, params }), headers);
    const body = reply.json as RpcReply | undefined;
    if (reply.status === 503 && body?.error?.code === -32000 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    if (reply.status !== 200) throw new Error(`HTTP ${reply.status} for ${method}: ${reply.text}`);
    if (body?.error) throw new Error(`${method} failed: ${JSON.stringify(body.error)}`);
    return body?.result as T;
  }
}

/** The error code of a call that must fail. */
export async function errCode(
  url: string,
  method: string,
  params: unknown = {},
  headers: Record<string, string> = {},
): Promise<RpcError> {
  const reply = await call(url, method, params, headers);
  if (!reply.error) throw new Error(`${method} unexpectedly succeeded: ${JSON.stringify(reply.result)}`);
  return reply.error;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const basic = (id: string, secret: string) => ({
  authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
});

/** Headers and body of a request signed with a secret key (HMAC) or an Ed25519 private key. */
export function signed(
  keyId: string,
  credential: { secret: string } | { privateKeyPem: string },
  body: string,
  opts: { timestamp?: number; nonce?: string; uri?: string } = {},
): Record<string, string> {
  const ts = opts.timestamp ?? Date.now();
  const nonce = opts.nonce ?? randomBytes(12).toString("base64");
  const payload = requestSigningPayload(ts, nonce, "POST", opts.uri ?? "/main", body);
  const sig =
    "secret" in credential ? hmacSignature(credential.secret, payload) : ed25519Sign(credential.privateKeyPem, payload);
  return { authorization: `pmx-hmac-sha256 ${keyId};1;${ts};${nonce};${sig}` };
}

export function rpcBody(method: string, params: unknown = {}, id: number | string = nextId++): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, params });
}

/** A WebSocket client to /main that pairs replies with requests by order of arrival. */
export class WsClient {
  private readonly inbox: string[] = [];
  private readonly waiters: ((m: string) => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const text = data.toString();
      const w = this.waiters.shift();
      if (w) w(text);
      else this.inbox.push(text);
    });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    const socket = new WebSocket(`${url.replace(/^http/, "ws")}/main`, { headers });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return new WsClient(socket);
  }

  send(text: string): void {
    this.socket.send(text);
  }

  /** The next message, or undefined if none arrives within `ms`. */
  next(ms = 5000): Promise<string | undefined> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      }, ms);
      const waiter = (m: string) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push(waiter);
    });
  }

  async call(method: string, params: unknown = {}): Promise<RpcReply> {
    this.send(rpcBody(method, params));
    const msg = await this.next();
    if (msg === undefined) throw new Error(`no WebSocket reply to ${method}`);
    return JSON.parse(msg) as RpcReply;
  }

  close(): void {
    this.socket.close();
  }
}
