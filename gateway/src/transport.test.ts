import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { post, rpc, startTestGateway, type TestGateway } from "./testing/fakes";

const SECRET = "transport-secret-transport-secret";
const BASIC = `Basic ${Buffer.from(`k-transport:${SECRET}`).toString("base64")}`;

function portOf(gw: TestGateway): number {
  return Number(new URL(gw.url).port);
}

/** A raw connection to the gateway that records what it receives and when it is closed. */
function open(
  gw: TestGateway,
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
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      env: { PMX_RATE_LIMIT_PER_MINUTE: "0", PMX_HEADERS_TIMEOUT_MS: "300", PMX_REQUEST_TIMEOUT_MS: "600" },
    });
    gw.fakes.addKey({ apiKeyId: "k-transport", secret: SECRET, maxScope: ["pkiadmin:read_write"] });
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
    gw.fakes.beforeCall = () => new Promise((r) => setTimeout(r, 900));
    try {
      const res = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: BASIC });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { jsonrpc: "2.0", id: 1, result: [] });
    } finally {
      gw.fakes.beforeCall = undefined;
    }
  });
});
