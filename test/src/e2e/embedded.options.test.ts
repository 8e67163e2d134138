import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig as loadGatewayConfig } from "@pkiserver/gateway";
import { call, ok, post, rpcBody, WsClient } from "../support/client";
import { startForm } from "../support/forms";

describe("embedded form: configuration", () => {
  it("PMX_PKI_PUBLIC_READ=true lets anyone call pki/* and nothing else", async () => {
    const sys = await startForm("embedded", { PMX_PKI_PUBLIC_READ: "true" });
    try {
      const ref = {
        userId: "public",
        instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH",
        contextId: "ctx",
      };
      assert.deepEqual(await ok(sys.url, "pki/getKeyHistory", ref), []);
      assert.equal((await call(sys.url, "pkiAdmin/listHosts", {})).error?.code, 14);
    } finally {
      await sys.stop();
    }
  });

  it("pki/* needs credentials by default (14)", async () => {
    const sys = await startForm("embedded");
    try {
      const ref = {
        userId: "public",
        instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH",
        contextId: "ctx",
      };
      assert.equal((await call(sys.url, "pki/getKeyHistory", ref)).error?.code, 14);
    } finally {
      await sys.stop();
    }
  });

  it("answers a client over its rate limit with HTTP 429, Retry-After and -32029", async () => {
    const sys = await startForm("embedded", { PMX_RATE_LIMITS: "pki=5,pkiadmin=0,user=0,audit=0,auth=0" });
    try {
      const replies = [];
      // Calls are counted in their method's tier, an unknown one under pki/ too.
      for (let i = 0; i < 12; i++) replies.push(await post(sys.url, rpcBody("pki/noSuch")));
      const limited = replies.filter((r) => r.status === 429);
      assert.ok(limited.length > 0, "some requests were limited");
      assert.ok(
        replies.slice(0, 5).every((r) => r.status === 200),
        "the first five pass",
      );
      const r = limited[0] as (typeof limited)[number];
      const retryAfter = Number(r.headers.get("retry-after"));
      assert.ok(retryAfter >= 1, "Retry-After in seconds");
      const body = r.json as { error: { code: number; message: string; data: { retryAfter: number } } };
      assert.equal(body.error.code, -32029);
      assert.equal(body.error.message, "Too many requests");
      assert.equal(body.error.data.retryAfter, retryAfter);
    } finally {
      await sys.stop();
    }
  });

  it("allows CORS only when PMX_CORS_ORIGINS is set", async () => {
    const closed = await startForm("embedded");
    const open = await startForm("embedded", { PMX_CORS_ORIGINS: "https://app.example" });
    try {
      const pre = (u: string) =>
        fetch(`${u}/main`, {
          method: "OPTIONS",
          headers: { origin: "https://app.example", "access-control-request-method": "POST" },
        });
      assert.equal((await pre(closed.url)).headers.get("access-control-allow-origin"), null);
      assert.equal((await pre(open.url)).headers.get("access-control-allow-origin"), "https://app.example");
    } finally {
      await closed.stop();
      await open.stop();
    }
  });

  it("pings WebSocket peers every PMX_WS_PING_INTERVAL ms (10 s by default) and keeps those that answer", async () => {
    assert.equal(loadGatewayConfig({}).wsPingIntervalMs, 10_000, "the default interval is 10 s");
    const sys = await startForm("embedded", { PMX_WS_PING_INTERVAL: "300" });
    try {
      const ws = await WsClient.open(sys.url);
      const pings: number[] = [];
      const opened = Date.now();
      // The ws client answers pings with pongs by itself, as browsers do.
      ws.socket.on("ping", () => pings.push(Date.now() - opened));
      const deadline = Date.now() + 10_000;
      while (pings.length < 3 && Date.now() < deadline) await new Promise((r) => ws.socket.once("ping", r));
      assert.ok(pings.length >= 3, `three pings, got ${pings.length}`);
      const gap = (pings[2] as number) - (pings[1] as number);
      assert.ok(gap >= 250, `pings come one interval apart, got ${gap} ms`);
      assert.equal((await ws.call("no/such")).error?.code, -32601, "a peer that answers pings stays connected");
      ws.close();
    } finally {
      await sys.stop();
    }
  });
});
