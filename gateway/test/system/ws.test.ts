import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rpc, startTestSystem, type TestKey, type TestSystem, VALID_KEY_1 } from "@pkiserver/testing";
import WebSocket from "ws";

const SECRET = "ws-secret-ws-secret-ws-secret-ws-secret";
const ALL = ["user:read_write", "pki:read_write", "pkiadmin:read_write"];

/** A WebSocket client that queues incoming text messages for the test to take in order. */
class Client {
  readonly ws: WebSocket;
  private readonly queue: string[] = [];
  private waiting: ((m: string) => void) | undefined;
  readonly closed: Promise<{ code: number }>;

  constructor(url: string, opts: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, opts);
    this.ws.on("message", (data: Buffer, isBinary: boolean) => {
      assert.equal(isBinary, false, "replies are text messages");
      const text = data.toString("utf8");
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(text);
      } else this.queue.push(text);
    });
    this.closed = new Promise((resolve) => this.ws.on("close", (code) => resolve({ code })));
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
  }

  next(timeoutMs = 2000): Promise<unknown> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(JSON.parse(queued));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no message")), timeoutMs);
      this.waiting = (m) => {
        clearTimeout(t);
        resolve(JSON.parse(m));
      };
    });
  }

  async call(body: unknown): Promise<unknown> {
    this.ws.send(typeof body === "string" ? body : JSON.stringify(body));
    return this.next();
  }

  close(): void {
    this.ws.close();
  }
}

function errorCode(reply: unknown): number | undefined {
  return (reply as { error?: { code: number } }).error?.code;
}

describe("JSON-RPC over WebSocket", () => {
  let gw: TestSystem;
  let key: TestKey;
  /** An access token of the test's key, from auth. */
  const token = async (scope: string[]) =>
    (await gw.token({ apiKeyId: key.apiKeyId, secret: SECRET }, scope)).accessToken;
  before(async () => {
    gw = await startTestSystem({ env: { PMX_RATE_LIMIT_PER_MINUTE: "0" }, gateway: { wsPingIntervalMs: 100 } });
    key = await gw.addKey({ secret: SECRET, maxScope: ALL });
  });
  after(async () => gw.close());

  async function connect(opts: WebSocket.ClientOptions = {}): Promise<Client> {
    const c = new Client(gw.wsUrl, opts);
    await c.open();
    return c;
  }

  it("answers requests with text messages of the same shape as over HTTP", async () => {
    const c = await connect();
    try {
      assert.deepEqual(await c.call(rpc("pki/nope", {}, 5)), {
        jsonrpc: "2.0",
        id: 5,
        error: { code: -32601, message: "Method not found", data: null },
      });
      assert.deepEqual(await c.call("{not json"), {
        jsonrpc: "2.0",
        id: null,
        error: { code: -32700, message: "Parse error", data: null },
      });
      assert.equal(errorCode(await c.call({ jsonrpc: "2.0", id: 1 })), -32600);
      assert.equal(errorCode(await c.call([])), -32600);
      assert.deepEqual(await c.call(rpc("auth/token", { grantType: "refresh_token" }, 2)), {
        jsonrpc: "2.0",
        id: 2,
        error: { code: -32602, message: "Invalid params", data: "Key 'refreshToken' is required" },
      });
    } finally {
      c.close();
    }
  });

  it("answers a batch with an array and sends nothing for a batch of only notifications", async () => {
    const c = await connect();
    try {
      assert.deepEqual(
        await c.call([rpc("pki/nope", {}, 1), { jsonrpc: "2.0", method: "pki/nope" }, rpc("pki/nope", {}, 2)]),
        [
          { jsonrpc: "2.0", id: 1, error: { code: -32601, message: "Method not found", data: null } },
          { jsonrpc: "2.0", id: 2, error: { code: -32601, message: "Method not found", data: null } },
        ],
      );
      c.ws.send(JSON.stringify([{ jsonrpc: "2.0", method: "pki/nope" }]));
      // Messages are handled in order, so the next message is the reply to the following request.
      assert.deepEqual(await c.call(rpc("pki/nope", {}, "after")), {
        jsonrpc: "2.0",
        id: "after",
        error: { code: -32601, message: "Method not found", data: null },
      });
    } finally {
      c.close();
    }
  });

  it("answers every one of many requests sent without waiting, in order, and stays open", async () => {
    const c = await connect({
      headers: { authorization: key.basic },
    });
    try {
      const n = 300;
      for (let i = 0; i < n; i++) c.ws.send(JSON.stringify(rpc("pkiAdmin/listHosts", {}, i)));
      for (let i = 0; i < n; i++) assert.deepEqual(await c.next(), { jsonrpc: "2.0", id: i, result: [] });
      assert.equal(c.ws.readyState, WebSocket.OPEN);
    } finally {
      c.close();
    }
  });

  it("refuses protected methods without credentials, then authorises them by a bound token", async () => {
    const c = await connect();
    try {
      assert.equal(errorCode(await c.call(rpc("pkiAdmin/listHosts", {}))), 14);
      const accessToken = await token(["pkiadmin:read"]);
      assert.deepEqual(await c.call(rpc("auth/bindAccessToken", { accessToken }, 3)), {
        jsonrpc: "2.0",
        id: 3,
        result: "OK",
      });
      assert.deepEqual(await c.call(rpc("pkiAdmin/listHosts", {}, 4)), { jsonrpc: "2.0", id: 4, result: [] });
      const call = gw.calls.findLast((x) => x.rpc === "listHosts");
      assert.equal(call?.callerKeyId, key.apiKeyId);
    } finally {
      c.close();
    }
  });

  it("replaces an earlier binding and keeps it when a new token is refused", async () => {
    const c = await connect();
    try {
      const reader = await token(["pkiadmin:read"]);
      const writer = await token(["pkiadmin:write"]);
      await c.call(rpc("auth/bindAccessToken", { accessToken: reader }));
      assert.equal(errorCode(await c.call(rpc("auth/bindAccessToken", { accessToken: "garbage" }))), 76);
      assert.deepEqual(await c.call(rpc("pkiAdmin/listHosts", {}, 1)), { jsonrpc: "2.0", id: 1, result: [] });
      await c.call(rpc("auth/bindAccessToken", { accessToken: writer }));
      assert.equal(errorCode(await c.call(rpc("pkiAdmin/listHosts", {}))), 73);
    } finally {
      c.close();
    }
  });

  it("applies a binding to the requests after it within the same batch", async () => {
    const c = await connect();
    try {
      const accessToken = await token(ALL);
      const replies = (await c.call([
        rpc("pkiAdmin/listHosts", {}, 1),
        rpc("auth/bindAccessToken", { accessToken }, 2),
        rpc("pkiAdmin/listHosts", {}, 3),
      ])) as unknown[];
      assert.equal(errorCode(replies[0]), 14);
      assert.deepEqual(replies[2], { jsonrpc: "2.0", id: 3, result: [] });
    } finally {
      c.close();
    }
  });

  it("stops honouring a bound token once its session is revoked", async () => {
    const c = await connect();
    try {
      const pair = await gw.token({ apiKeyId: key.apiKeyId, secret: SECRET }, ALL);
      await c.call(rpc("auth/bindAccessToken", { accessToken: pair.accessToken }));
      assert.equal(errorCode(await c.call(rpc("pkiAdmin/listHosts", {}))), undefined);
      await gw.services.auth.revokeSession({ sessionId: pair.sessionId });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(errorCode(await c.call(rpc("pkiAdmin/listHosts", {}))), 75);
    } finally {
      c.close();
    }
  });

  it("authorises by the upgrade request's own Basic or Bearer header", async () => {
    const basic = await connect({
      headers: { authorization: key.basic },
    });
    try {
      assert.deepEqual(await basic.call(rpc("pkiAdmin/listHosts", {}, 1)), { jsonrpc: "2.0", id: 1, result: [] });
    } finally {
      basic.close();
    }
    const bearer = await connect({ headers: { "x-user-token": await token(ALL) } });
    try {
      assert.deepEqual(await bearer.call(rpc("pkiAdmin/listHosts", {}, 1)), { jsonrpc: "2.0", id: 1, result: [] });
    } finally {
      bearer.close();
    }
  });

  it("closes the connection with 1009 on a message over 1 MiB", async () => {
    const c = await connect();
    c.ws.send(JSON.stringify(rpc("pki/getHost", { hostUrl: "x".repeat(1024 * 1024) })));
    const { code } = await c.closed;
    assert.equal(code, 1009);
  });

  it("pings, keeps peers that answer and terminates peers that miss two pongs", async () => {
    const alive = await connect();
    const silent = await connect({ autoPong: false });
    let pings = 0;
    alive.ws.on("ping", () => pings++);
    const silentClosed = await Promise.race([
      silent.closed.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
    ]);
    assert.equal(silentClosed, true, "the silent peer is dropped");
    assert.ok(pings >= 2, "the server pings");
    assert.equal(alive.ws.readyState, WebSocket.OPEN);
    assert.deepEqual(await alive.call(rpc("pki/nope", {}, 1)), {
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32601, message: "Method not found", data: null },
    });
    alive.close();
  });

  it("counts open connections in /metrics", async () => {
    const c = await connect();
    try {
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      const m = /pmx_gateway_ws_connections (\d+)/.exec(text);
      assert.ok(m && Number(m[1]) >= 1);
    } finally {
      c.close();
    }
  });

  it("uses a pkiAdmin/ method to reach the pki service with params mapped", async () => {
    const c = await connect({
      headers: { authorization: key.basic },
    });
    try {
      assert.deepEqual(
        await c.call(rpc("pkiadmin/setHost", { hostPubKey: VALID_KEY_1, hostUrl: "https://h.example" }, 1)),
        {
          jsonrpc: "2.0",
          id: 1,
          result: VALID_KEY_1,
        },
      );
    } finally {
      c.close();
    }
  });
});
