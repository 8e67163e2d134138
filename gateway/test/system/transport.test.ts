import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { post, rpc, startTestSystem, type TestSystem, withTestSystem } from "@pkiserver/testing";
import WebSocket from "ws";

const SECRET = "transport-secret-transport-secret";
/** The test key of the system under test, and its Basic credentials. */
let KEY_ID = "";
let BASIC = "";

async function addTransportKey(gw: TestSystem): Promise<void> {
  const key = await gw.addKey({ secret: SECRET, maxScope: ["pkiadmin:read_write"] });
  KEY_ID = key.apiKeyId;
  BASIC = key.basic;
}

function portOf(gw: TestSystem): number {
  return Number(new URL(gw.url).port);
}

/** A raw connection to the gateway that records what it receives and when it is closed. */
function open(
  gw: TestSystem,
  localAddress?: string,
): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: "127.0.0.1", port: portOf(gw), ...(localAddress ? { localAddress } : {}) });
    let text = "";
    socket.on("data", (d) => {
      text += d.toString("latin1");
    });
    socket.on("error", () => undefined);
    const closed = new Promise<number>((r) => socket.once("close", () => r(Date.now() - started)));
    socket.once("connect", () => resolve({ socket, received: () => text, closed }));
    socket.once("error", reject);
  });
}

/** Resolves with the time the connection took to close, or fails after `ms`. */
async function closesWithin(closed: Promise<number>, ms: number, what: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("slow clients (API.md section 8)", () => {
  let gw: TestSystem;
  before(async () => {
    gw = await startTestSystem({
      env: { PMX_RATE_LIMIT_PER_MINUTE: "0", PMX_HEADERS_TIMEOUT_MS: "300", PMX_REQUEST_TIMEOUT_MS: "600" },
    });
    await addTransportKey(gw);
  });
  after(async () => gw.close());

  it("answers 408 and closes connections whose body is not all there by the request timeout", async () => {
    const conns = await Promise.all(Array.from({ length: 5 }, () => open(gw)));
    for (const c of conns) {
      // Declares 1 MiB and sends one byte less, as a slow or stalled client does.
      c.socket.write(
        "POST /main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n",
      );
      c.socket.write(Buffer.alloc(1048575, 0x20));
    }
    try {
      for (const c of conns) {
        await closesWithin(c.closed, 5000, "slow body");
        assert.match(c.received(), /^HTTP\/1\.1 408 /);
      }
    } finally {
      for (const c of conns) c.socket.destroy();
    }
  });

  it("answers 408 and closes a connection whose headers are not all there by the headers timeout", async () => {
    const c = await open(gw);
    try {
      c.socket.write("POST /main HTTP/1.1\r\nHost: x\r\n");
      const ms = await closesWithin(c.closed, 5000, "slow headers");
      assert.match(c.received(), /^HTTP\/1\.1 408 /);
      assert.ok(ms < 600 + 1000, `closed after ${ms} ms, before the request timeout had any say`);
    } finally {
      c.socket.destroy();
    }
  });

  it("closes a connection that sends nothing at all", async () => {
    const c = await open(gw);
    try {
      await closesWithin(c.closed, 5000, "silent connection");
    } finally {
      c.socket.destroy();
    }
  });

  it("still answers a request whose body arrived in time when the backend is slower than the timeout", async () => {
    gw.beforeCall = () => new Promise((r) => setTimeout(r, 900));
    try {
      const res = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: BASIC });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { jsonrpc: "2.0", id: 1, result: [] });
    } finally {
      gw.beforeCall = undefined;
    }
  });
});

/** A GET over its own connection from `localAddress`; resolves with the status, or "closed" if the connection was dropped. */
function getFrom(gw: TestSystem, path: string, localAddress = "127.0.0.1", headers: Record<string, string> = {}) {
  return new Promise<{ status: number | "closed"; body: string }>((resolve) => {
    const req = httpRequest(
      { host: "127.0.0.1", port: portOf(gw), path, localAddress, agent: false, headers },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", () => resolve({ status: "closed", body: "" }));
    req.end();
  });
}

/** Opens a WebSocket; resolves with it once open, or with the HTTP status that refused it. */
function openWs(
  gw: TestSystem,
  headers: Record<string, string> = {},
  localAddress?: string,
): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(gw.wsUrl, { headers, ...(localAddress ? { localAddress } : {}) });
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("error", () => resolve(0));
  });
}

describe("open connections per client (API.md section 8)", () => {
  it("refuses a client's connection over the cap with 429, HTTP and WebSocket together, and counts it", async () => {
    const gw = await startTestSystem({ env: { PMX_RATE_LIMIT_PER_MINUTE: "0", PMX_MAX_CONNECTIONS_PER_CLIENT: "3" } });
    const held: { socket: Socket }[] = [];
    const sockets: WebSocket[] = [];
    // The client under test has an address of its own: the test's other requests come from 127.0.0.1.
    const client = "127.0.0.3";
    try {
      held.push(await open(gw, client), await open(gw, client));
      const ws = await openWs(gw, {}, client);
      assert.ok(ws instanceof WebSocket, "the third connection, a WebSocket, is accepted");
      sockets.push(ws);

      const http = await getFrom(gw, "/health", client);
      assert.ok(http.status === 429 || http.status === "closed", `got ${http.status}`);
      if (http.status === 429) assert.equal(JSON.parse(http.body).error.code, -32029);
      const refusedWs = await openWs(gw, {}, client);
      assert.ok(typeof refusedWs === "number", "a fourth connection as a WebSocket is refused too");
      assert.ok(refusedWs === 429 || refusedWs === 0, `got ${refusedWs}`);

      // Another client is not affected, and the refusals are in /metrics.
      const metrics = await getFrom(gw, "/metrics", "127.0.0.2");
      assert.equal(metrics.status, 200);
      const refused = /^pmx_gateway_connections_refused_total (\d+)/m.exec(metrics.body);
      assert.ok(refused && Number(refused[1]) >= 2, "refusals are counted");

      // A closed connection makes room again.
      held.pop()?.socket.destroy();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await getFrom(gw, "/health", client)).status, 200);
    } finally {
      for (const h of held) h.socket.destroy();
      for (const s of sockets) s.terminate();
      await gw.close();
    }
  });

  it("counts a proxied client's requests and WebSockets by its forwarded address, not the proxy's", async () => {
    const gw = await startTestSystem({
      env: { PMX_RATE_LIMIT_PER_MINUTE: "0", PMX_MAX_CONNECTIONS_PER_CLIENT: "2", PMX_TRUSTED_PROXIES: "127.0.0.1" },
    });
    const sockets: WebSocket[] = [];
    try {
      const as = (ip: string) => ({ "x-forwarded-for": ip });
      for (let i = 0; i < 2; i++) {
        const ws = await openWs(gw, as("203.0.113.7"));
        assert.ok(ws instanceof WebSocket);
        sockets.push(ws);
      }
      assert.equal(await openWs(gw, as("203.0.113.7")), 429);
      assert.equal((await getFrom(gw, "/health", "127.0.0.1", as("203.0.113.7"))).status, 429);
      // Other clients behind the same proxy, and the proxy's many connections, are fine.
      const other = await openWs(gw, as("203.0.113.8"));
      assert.ok(other instanceof WebSocket);
      sockets.push(other);
      for (let i = 0; i < 4; i++)
        assert.equal((await getFrom(gw, "/health", "127.0.0.1", as(`198.51.100.${i}`))).status, 200);
      // A closed WebSocket gives its slot back.
      const first = sockets.shift() as WebSocket;
      await new Promise((r) => {
        first.once("close", r);
        first.close();
      });
      await new Promise((r) => setTimeout(r, 100));
      const again = await openWs(gw, as("203.0.113.7"));
      assert.ok(again instanceof WebSocket);
      sockets.push(again);
    } finally {
      for (const s of sockets) s.terminate();
      await gw.close();
    }
  });
});

describe("hostile WebSocket frames (API.md section 8)", () => {
  let gw: TestSystem;
  before(async () => {
    gw = await startTestSystem({ env: { PMX_RATE_LIMIT_PER_MINUTE: "0" } });
  });
  after(async () => gw.close());

  /** Opens a WebSocket, lets `act` misbehave on it, and returns the close code and the log lines written meanwhile. */
  async function misbehave(act: (ws: WebSocket) => void): Promise<{ code: number; lines: Record<string, unknown>[] }> {
    const ws = await openWs(gw);
    assert.ok(ws instanceof WebSocket);
    const from = gw.logLines.length;
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    ws.on("error", () => undefined);
    act(ws);
    let code: number;
    try {
      code = await closesWithin(closed, 5000, "the WebSocket");
    } finally {
      ws.terminate();
    }
    await new Promise((r) => setTimeout(r, 100));
    return { code, lines: gw.logLines.slice(from) };
  }

  function assertLoggedOnceAtWarn(lines: Record<string, unknown>[]): void {
    assert.deepEqual(
      lines.filter((l) => Number(l.level) >= 50),
      [],
      "nothing at error level",
    );
    const warns = lines.filter((l) => l.level === 40);
    assert.equal(warns.length, 1, JSON.stringify(lines));
    assert.doesNotMatch(JSON.stringify(warns[0]), /"stack"|\bat [\w.<>]+ \(/, "no stack trace");
  }

  it("closes with 1007 on invalid UTF-8 in a text frame, logging one warn line without a stack", async () => {
    const { code, lines } = await misbehave((ws) => {
      for (let i = 0; i < 3; i++) ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    });
    assert.equal(code, 1007);
    assertLoggedOnceAtWarn(lines);
  });

  it("closes with 1009 on a message over 1 MiB, logging one warn line without a stack", async () => {
    const { code, lines } = await misbehave((ws) => ws.send("x".repeat(1024 * 1024 + 1)));
    assert.equal(code, 1009);
    assertLoggedOnceAtWarn(lines);
  });

  it("refuses binary frames with 1003 instead of reading them as text, logging one warn line", async () => {
    const { code, lines } = await misbehave((ws) => {
      for (let i = 0; i < 3; i++) ws.send(Buffer.from(JSON.stringify(rpc("pki/nope", {}, i))), { binary: true });
    });
    assert.equal(code, 1003);
    assertLoggedOnceAtWarn(lines);
    assert.equal(
      lines.some((l) => l.msg === "rpc request"),
      false,
      "no binary frame was handled",
    );
  });
});

describe("backends not ready or gone (API.md section 7)", () => {
  const tokenRequest = () =>
    rpc("auth/token", {
      grantType: "client_credentials",
      clientId: KEY_ID,
      clientSecret: SECRET,
      scope: [],
    });
  const unavailable = (id: unknown) => ({
    jsonrpc: "2.0",
    id,
    error: { code: -32000, message: "Service unavailable", data: null },
  });

  async function eventuallyReady(gw: TestSystem): Promise<void> {
    const deadline = Date.now() + 15_000;
    while ((await fetch(`${gw.url}/ready`)).status !== 200) {
      assert.ok(Date.now() < deadline, "the gateway became ready");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it("refuses calls with -32000, HTTP 503 and Retry-After until every backend answers, then serves them", async () => {
    await withTestSystem(
      {
        env: { PMX_RATE_LIMIT_PER_MINUTE: "0" },
        transport: "grpc",
        servicesLater: true,
      },
      async (gw) => {
        await addTransportKey(gw);
        assert.equal((await fetch(`${gw.url}/health`)).status, 200);
        assert.equal((await fetch(`${gw.url}/ready`)).status, 503);

        const early = await post(gw, tokenRequest());
        assert.equal(early.status, 503);
        assert.ok(Number(early.headers.get("retry-after")) >= 1, "Retry-After in seconds");
        assert.deepEqual(early.json, unavailable(1));
        const batch = await post(gw, [tokenRequest(), rpc("pki/nope", {}, 2)]);
        assert.equal(batch.status, 503);
        assert.equal(await openWs(gw), 503, "no WebSocket is opened either");

        await gw.startServices();
        await eventuallyReady(gw);
        const later = await post(gw, tokenRequest());
        assert.equal(later.status, 200);
        assert.equal(typeof (later.json as { result: { accessToken: string } }).result.accessToken, "string");
        assert.equal(
          gw.logLines.some((l) => l.code === -32603),
          false,
          "no call failed as an internal error",
        );
      },
    );
  });

  it("answers -32000 with HTTP 503 when a backend the call needs has gone away", async () => {
    await withTestSystem({ env: { PMX_RATE_LIMIT_PER_MINUTE: "0" }, transport: "grpc" }, async (gw) => {
      await addTransportKey(gw);
      const { accessToken: token } = await gw.token({ apiKeyId: KEY_ID, secret: SECRET }, ["pkiadmin:read"]);
      await gw.stopServices();
      // Basic credentials need apikey; a token is checked locally and the call needs pki.
      for (const authorization of [BASIC, `Bearer ${token}`]) {
        const res = await post(gw, rpc("pkiAdmin/listHosts", {}, 7), { authorization });
        assert.equal(res.status, 503, authorization.slice(0, 6));
        assert.ok(Number(res.headers.get("retry-after")) >= 1);
        assert.deepEqual(res.json, unavailable(7));
      }
      const res = await post(gw, tokenRequest());
      assert.deepEqual(res.json, unavailable(1));
    });
  });
});

describe("shutdown", () => {
  it("waits for calls in flight and answers -32000 to those that complete while it drains", async () => {
    const gw = await startTestSystem({ env: { PMX_RATE_LIMIT_PER_MINUTE: "0" } });
    await addTransportKey(gw);
    let slow: Awaited<ReturnType<typeof open>> | undefined;
    try {
      let release: () => void = () => undefined;
      gw.beforeCall = () =>
        new Promise<void>((r) => {
          release = r;
        });
      const before = gw.calls.length;
      const held = post(gw, rpc("pkiAdmin/listHosts", {}, "held"), { authorization: BASIC });
      while (gw.calls.length === before) await new Promise((r) => setTimeout(r, 10));

      // A request whose body is still on its way when the shutdown begins.
      const late = JSON.stringify(rpc("pkiAdmin/listHosts", {}, "late"));
      slow = await open(gw);
      slow.socket.write(
        `POST /main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: ${BASIC}\r\n` +
          `Content-Length: ${late.length}\r\n\r\n${late.slice(0, 10)}`,
      );
      await new Promise((r) => setTimeout(r, 50));

      let closed = false;
      const closing = gw.app.close().then(() => {
        closed = true;
      });
      await new Promise((r) => setTimeout(r, 100));
      slow.socket.write(late.slice(10));
      await closesWithin(slow.closed, 5000, "the late request's connection");
      const [head, body] = slow.received().split("\r\n\r\n");
      assert.match(head ?? "", /^HTTP\/1\.1 503 /);
      assert.match(head ?? "", /\r\nretry-after: \d+/i);
      assert.deepEqual(JSON.parse(body ?? ""), {
        jsonrpc: "2.0",
        id: "late",
        error: { code: -32000, message: "Service unavailable", data: null },
      });
      assert.equal(closed, false, "close() waits for the call in flight");

      gw.beforeCall = undefined;
      release();
      assert.deepEqual((await held).json, { jsonrpc: "2.0", id: "held", result: [] });
      await closing;
    } finally {
      slow?.socket.destroy();
      await gw.close();
    }
  });
});
