import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { after, before, describe, it } from "node:test";
import { METHOD_NAMES } from "@pkiserver/contract";
import { bearer, call, WsClient } from "../support/client";
import { startForm, type TestSystem } from "../support/forms";
import { randomPubKey } from "../support/keys";

/*
 * API.md section 8: no input, however shaped, makes the server answer
 * -32603, a 5xx, hang, or grow its memory without bound. A seeded generator
 * sends well over 10,000 requests over HTTP and WebSocket: real methods and
 * made-up ones, every kind of JSON value where params go, batches, broken
 * JSON, wrong content types and garbage credentials. The seed is printed so a
 * failure can be replayed (PMX_FUZZ_SEED).
 */

const HTTP_REQUESTS = 9_000;
const WS_MESSAGES = 3_000;

/** mulberry32: small, fast and good enough to vary inputs reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(
    private readonly rnd: () => number,
    private readonly goodKeys: readonly string[],
  ) {}

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  string(): string {
    switch (this.int(9)) {
      case 0:
        return "";
      case 1:
        return "x".repeat(this.pick([1, 2, 3, 127, 128, 129, 256, 2049, 5000]));
      case 2:
        return "\ud800";
      case 3:
        return "zażółć 🔑 \u0000 \n;\n\n";
      case 4:
        return this.pick(this.goodKeys);
      case 5:
        return this.pick(["pki:read", "user:read_write", "session:a", "ipAddr:::1", "expiresIn:5", "nope:read"]);
      case 6:
        return this.pick(["client_credentials", "refresh_token", "client_signature", "secret", "pubKey"]);
      case 7:
        return `${this.int(1e9)}`;
      default:
        return Array.from({ length: this.int(40) }, () => String.fromCharCode(32 + this.int(95))).join("");
    }
  }

  value(depth = 0): unknown {
    switch (this.int(depth > 3 ? 5 : 8)) {
      case 0:
        return null;
      case 1:
        return this.rnd() < 0.5;
      case 2:
        return this.pick([0, -1, 1.5, 2 ** 53, 2 ** 64, -(2 ** 63), Date.now(), 1e308]);
      case 3:
      case 4:
        return this.string();
      case 5:
        return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      default:
        return this.params(depth + 1);
    }
  }

  params(depth = 0): Record<string, unknown> {
    const keys = [
      "userId",
      "instanceId",
      "contextId",
      "userPubKey",
      "hostPubKey",
      "hostUrl",
      "date",
      "apiKeyId",
      "name",
      "maxScope",
      "scope",
      "clientId",
      "clientSecret",
      "grantType",
      "refreshToken",
      "accessToken",
      "sessionName",
      "nonce",
      "timestamp",
      "signature",
      "data",
      "customData",
      "type",
      "enabled",
      "gracePeriod",
      "extra",
    ];
    const out: Record<string, unknown> = {};
    for (let i = this.int(7); i > 0; i--) out[this.pick(keys)] = this.value(depth);
    return out;
  }

  request(): unknown {
    const r: Record<string, unknown> = {};
    if (this.rnd() < 0.95) r.jsonrpc = this.rnd() < 0.95 ? "2.0" : this.value();
    if (this.rnd() < 0.9) r.id = this.rnd() < 0.9 ? this.int(1e6) : this.value();
    r.method = this.rnd() < 0.85 ? this.pick([...METHOD_NAMES, "pkiadmin/listHosts", "rpc.discover"]) : this.value();
    if (this.rnd() < 0.9) r.params = this.rnd() < 0.85 ? this.params() : this.value();
    return r;
  }

  body(): string {
    const k = this.int(20);
    if (k === 0) return this.string();
    if (k === 1) return JSON.stringify(Array.from({ length: this.int(8) }, () => this.request()));
    if (k === 2) return "[]";
    if (k === 3) return JSON.stringify(this.request()).slice(0, this.int(40));
    return JSON.stringify(this.request());
  }

  headers(token: string): Record<string, string> {
    const h: Record<string, string> = { "content-type": "application/json" };
    switch (this.int(10)) {
      case 0:
        h["content-type"] = this.pick(["text/plain", "application/json; charset=utf-8", "", "application/xml"]);
        break;
      case 1:
        h.authorization = `Bearer ${this.string().replace(/[^\x20-\x7e]/g, "")}`;
        break;
      case 2:
        h.authorization = `Basic ${Buffer.from(`${this.string()}:${this.string()}`).toString("base64")}`;
        break;
      case 3:
        h.authorization = `pmx-hmac-sha256 ${this.string().replace(/[^\x20-\x7e]/g, "")}`;
        break;
      case 4:
        h["x-user-token"] = this.string().replace(/[^\x20-\x7e]/g, "");
        break;
      default:
        Object.assign(h, bearer(token));
    }
    return h;
  }
}

/** Every reply object of a body's answer (one, a batch, or none). */
function replies(text: string): { error?: { code?: unknown } }[] {
  if (text.length === 0) return [];
  const parsed = JSON.parse(text) as unknown;
  return (Array.isArray(parsed) ? parsed : [parsed]) as { error?: { code?: unknown } }[];
}

describe("fuzzing the gateway over HTTP and WebSocket", () => {
  let sys: TestSystem;
  let token: string;
  const seed = Number(process.env.PMX_FUZZ_SEED ?? Date.now() % 2 ** 31);
  before(async () => {
    sys = await startForm("embedded");
    const first = await call(sys.url, "auth/createFirstApiKey", { initializationToken: sys.initToken, name: "fuzz" });
    const key = first.result as { apiKeyId: string; apiKeySecret: string };
    const grant = await call(sys.url, "auth/token", {
      grantType: "client_credentials",
      clientId: key.apiKeyId,
      clientSecret: key.apiKeySecret,
      scope: [],
    });
    token = (grant.result as { accessToken: string }).accessToken;
  });
  after(async () => sys.stop());

  it(`answers ${HTTP_REQUESTS + WS_MESSAGES} generated requests without -32603, a 5xx or a hang, and gives its memory back`, async () => {
    const gen = new Gen(prng(seed), [
      randomPubKey(),
      randomPubKey(),
      "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH",
    ]);
    const problems: string[] = [];
    const note = (what: string, body: string) => {
      if (problems.length < 10) problems.push(`${what} for ${body.slice(0, 200)}`);
    };
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const httpOne = (body: string, headers: Record<string, string>) =>
      new Promise<void>((resolve) => {
        const req = request(
          `${sys.url}/main`,
          {
            method: "POST",
            agent,
            headers: { ...headers, "content-length": Buffer.byteLength(body) },
            timeout: 15_000,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              if ((res.statusCode ?? 0) >= 500) note(`HTTP ${res.statusCode}`, body);
              try {
                for (const r of replies(text)) if (r.error?.code === -32603) note("-32603", body);
              } catch {
                if (res.statusCode !== 404 && res.statusCode !== 413)
                  note(`unparseable reply ${text.slice(0, 80)}`, body);
              }
              resolve();
            });
          },
        );
        req.on("timeout", () => {
          note("no answer within 15 s", body);
          req.destroy();
        });
        req.on("error", (err) => {
          note(`transport error ${err.message}`, body);
          resolve();
        });
        req.end(body);
      });
    let sent = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (sent < HTTP_REQUESTS) {
          sent++;
          await httpOne(gen.body(), gen.headers(token));
        }
      }),
    );
    agent.destroy();

    const ws = await WsClient.open(sys.url, bearer(token));
    let wsAnswered = 0;
    for (let i = 0; i < WS_MESSAGES; i++) {
      const body = gen.body();
      ws.send(body);
      const expectsReply = (() => {
        try {
          const parsed = JSON.parse(body) as unknown;
          const items = Array.isArray(parsed) ? parsed : [parsed];
          // Notifications get no reply; anything else (including errors) gets one.
          return (
            items.length === 0 ||
            items.some((x) => typeof x !== "object" || x === null || Array.isArray(x) || Object.hasOwn(x, "id"))
          );
        } catch {
          return true;
        }
      })();
      if (!expectsReply) continue;
      const reply = await ws.next(15_000);
      if (reply === undefined) {
        note("no WebSocket reply within 15 s", body);
        break;
      }
      wsAnswered++;
      for (const r of replies(reply)) if (r.error?.code === -32603) note("-32603 over WebSocket", body);
    }
    ws.close();
    assert.ok(wsAnswered > WS_MESSAGES / 2, `WebSocket answered ${wsAnswered}`);

    // Still serving: a real call after the storm works.
    const after = await call(sys.url, "pkiAdmin/listHosts", {}, bearer(token));
    assert.ok(Array.isArray(after.result), JSON.stringify(after));
    assert.deepEqual(problems, [], `seed ${seed}`);

    for (let i = 0; i < 3; i++) {
      global.gc?.();
      await new Promise((r) => setTimeout(r, 100));
    }
    const grown = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    assert.ok(grown < 200, `RSS grew by ${grown.toFixed(0)} MiB over the run (seed ${seed})`);
  });
});
