import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import { bearer, call, post, type RpcReply, rpcBody, WsClient } from "../support/client";
import type { Ctx } from "./auth.suite";

/**
 * API.md sections 1-2: the JSON-RPC transport over HTTP and WebSocket.
 * Callers are authenticated before their params are checked, so the
 * validation cases carry the admin token.
 */
export function transportSuite(ctx: () => Ctx): void {
  const url = () => ctx().sys.url;
  const auth = () => bearer(ctx().admin.accessToken);

  describe("JSON-RPC over HTTP", () => {
    it("answers a valid call with HTTP 200, application/json and an x-request-id", async () => {
      const r = await post(url(), rpcBody("pki/getHost", { hostUrl: "nowhere.example" }));
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
      assert.ok((r.headers.get("x-request-id") ?? "").length > 0);
    });

    it("refuses a body that is not application/json with -32700 'Invalid Content-Type'", async () => {
      const r = await post(url(), rpcBody("pki/getHost", {}), { "content-type": "text/plain" });
      assert.equal(r.status, 200);
      const reply = r.json as RpcReply;
      assert.equal(reply.error?.code, -32700);
      assert.equal(reply.error?.data, "Invalid Content-Type");
    });

    it("describes itself: rpc.discover and GET /openrpc.json give the OpenRPC document without credentials", async () => {
      const reply = await call(url(), "rpc.discover", {});
      const doc = reply.result as { openrpc: string; methods: { name: string; "x-scope": string | null }[] };
      assert.match(doc.openrpc, /^1\.3\./);
      const verifyKey = doc.methods.find((m) => m.name === "pki/verifyKey");
      assert.equal(verifyKey?.["x-scope"], "pki:read");
      assert.equal(doc.methods.find((m) => m.name === "auth/token")?.["x-scope"], null);
      const res = await fetch(`${url()}/openrpc.json`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.deepEqual(await res.json(), doc);
    });

    it("accepts content-type parameters such as charset", async () => {
      const r = await post(url(), rpcBody("no/such"), { "content-type": "application/json; charset=utf-8" });
      assert.equal((r.json as RpcReply).error?.code, -32601);
    });

    it("answers other HTTP methods on /main with -32605", async () => {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const r = await post(url(), "", {}, method);
        assert.equal(r.status, 200, method);
        const reply = r.json as RpcReply;
        assert.equal(reply.error?.code, -32605, method);
        assert.equal(reply.error?.message, "Only post method allowed");
      }
    });

    it("answers an unparseable body with -32700 and id null", async () => {
      const r = await post(url(), '{"jsonrpc":"2.0", "id": 1, "method": ');
      const reply = r.json as RpcReply;
      assert.equal(reply.error?.code, -32700);
      assert.equal(reply.id, null);
    });

    it("answers malformed request objects with -32600", async () => {
      const bad = [
        { id: 1, method: "pki/getHost", params: {} },
        { jsonrpc: "1.0", id: 1, method: "pki/getHost", params: {} },
        { jsonrpc: "2.0", id: 1, method: 5, params: {} },
        { jsonrpc: "2.0", id: { a: 1 }, method: "pki/getHost", params: {} },
        { jsonrpc: "2.0", id: 1, method: "pki/getHost", params: "x" },
        "just a string",
      ];
      for (const b of bad) {
        const reply = (await post(url(), JSON.stringify(b))).json as RpcReply;
        assert.equal(reply.error?.code, -32600, JSON.stringify(b));
      }
    });

    it("answers an unknown method with -32601 and data null", async () => {
      const reply = await call(url(), "pki/noSuchMethod", {});
      assert.equal(reply.error?.code, -32601);
      assert.equal(reply.error?.message, "Method not found");
      assert.equal(reply.error?.data, null);
    });

    it("answers a batch with one reply per request that has an id", async () => {
      const body = JSON.stringify([
        { jsonrpc: "2.0", id: "a", method: "no/such", params: {} },
        { jsonrpc: "2.0", method: "no/such", params: {} },
        { jsonrpc: "2.0", id: 7, method: "pki/getKeyHistory", params: { userId: "u" } },
      ]);
      const r = await post(url(), body);
      assert.equal(r.status, 200);
      const replies = r.json as RpcReply[];
      assert.ok(Array.isArray(replies));
      assert.deepEqual(replies.map((x) => x.id).sort(), [7, "a"].sort());
    });

    it("answers an empty batch with -32600", async () => {
      const reply = (await post(url(), "[]")).json as RpcReply;
      assert.equal(reply.error?.code, -32600);
    });

    it("answers a batch of only notifications with HTTP 204", async () => {
      const r = await post(url(), JSON.stringify([{ jsonrpc: "2.0", method: "no/such", params: {} }]));
      assert.equal(r.status, 204);
      assert.equal(r.text, "");
    });

    it("gives a single notification no reply", async () => {
      const r = await post(url(), JSON.stringify({ jsonrpc: "2.0", method: "no/such", params: {} }));
      assert.equal(r.status, 204);
    });

    it("refuses a batch of more than 100 requests with -32600", async () => {
      const batch = Array.from({ length: 101 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "no/such" }));
      const reply = (await post(url(), JSON.stringify(batch))).json as RpcReply;
      assert.equal(reply.error?.code, -32600);
    });

    it("accepts a batch of exactly 100 requests", async () => {
      const batch = Array.from({ length: 100 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "no/such" }));
      const replies = (await post(url(), JSON.stringify(batch))).json as RpcReply[];
      assert.equal(replies.length, 100);
    });

    it("refuses a body over 1 MiB with HTTP 413", async () => {
      const big = rpcBody("pki/getHost", { hostUrl: "x".repeat(1024 * 1024 + 10) });
      const r = await post(url(), big);
      assert.equal(r.status, 413);
    });

    it("names the offending path in -32602 data", async () => {
      const short = await call(
        url(),
        "pki/getKeyHistory",
        { userId: "u", instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH", contextId: "ctx-1" },
        auth(),
      );
      assert.equal(short.error?.code, -32602);
      assert.equal(short.error?.message, "Invalid params");
      assert.equal(short.error?.data, "userId -> Invalid length! Expected min 3, get 1");

      const missing = await call(
        url(),
        "pki/getKeyHistory",
        { instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH", contextId: "ctx-1" },
        auth(),
      );
      assert.equal(missing.error?.data, "Key 'userId' is required");

      const extra = await call(url(), "auth/token", {
        grantType: "client_credentials",
        clientId: "abc",
        clientSecret: "x".repeat(40),
        scope: [],
        foo: 1,
      });
      assert.equal(extra.error?.code, -32602);
      assert.equal(extra.error?.data, "Unexpected key 'foo'");

      const notString = await call(url(), "auth/token", {
        grantType: "client_credentials",
        clientId: "abc",
        clientSecret: "x".repeat(40),
        scope: [5],
      });
      assert.equal(notString.error?.data, "scope -> 0 -> Expected string");
    });

    it("refuses a string with a lone surrogate, so distinct ids cannot collapse into one record", async () => {
      const reply = await call(
        url(),
        "pkiAdmin/setKey",
        {
          userId: "\ud800abc",
          instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH",
          contextId: "ctx-surrogate",
          userPubKey: "51WPnnGwztNPWUDEbhncYDxZCZWAFS4M9Yqv94N2335nL92fEn",
        },
        auth(),
      );
      assert.equal(reply.error?.code, -32602);
      assert.equal(reply.error?.data, "userId -> Expected well-formed Unicode string");
      const other = await call(
        url(),
        "pki/getKeyHistory",
        {
          userId: "\ufffdabc",
          instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH",
          contextId: "ctx-surrogate",
        },
        auth(),
      );
      assert.deepEqual(other.result, []);
    });

    it("refuses customData nested too deeply to serialise with -32602", async () => {
      const depth = 100_000;
      const body =
        `{"jsonrpc":"2.0","id":1,"method":"pkiAdmin/setKey","params":{"userId":"deep-user",` +
        `"instanceId":"8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH","contextId":"ctx-deep",` +
        `"userPubKey":"51WPnnGwztNPWUDEbhncYDxZCZWAFS4M9Yqv94N2335nL92fEn",` +
        `"customData":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
      const reply = (await post(url(), body, auth())).json as RpcReply;
      assert.equal(reply.error?.code, -32602);
      assert.match(String(reply.error?.data), /^customData -> /);
    });

    it("refuses malformed signed-request headers with 14", async () => {
      const keyId = ctx().firstKey.apiKeyId;
      const ts = Date.now();
      for (const value of [`${keyId};1;${ts};n`, `${keyId};1;${ts};n;sig;extra`, `${keyId};1;9999999999999999;n;sig`]) {
        const reply = await call(url(), "pkiAdmin/listHosts", {}, { authorization: `pmx-hmac-sha256 ${value}` });
        assert.deepEqual(reply.error, { code: 14, message: "Unauthorized", data: null }, value);
      }
    });

    it("refuses keys that are not base58check compressed secp256k1 points", async () => {
      const bad = [
        "not-base58!",
        "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhX", // checksum broken
        "1111111111111111111111111111111111",
      ];
      for (const instanceId of bad) {
        const reply = await call(url(), "pki/getHost", { instanceId }, auth());
        assert.equal(reply.error?.code, -32602, instanceId);
        assert.match(String(reply.error?.data), /instanceId/);
      }
    });

    it("accepts the pkiadmin/ alias of pkiAdmin/ (both reach the same method)", async () => {
      const lower = await call(url(), "pkiadmin/listHosts", {});
      const upper = await call(url(), "pkiAdmin/listHosts", {});
      // Without credentials both are refused the same way, not as unknown methods.
      assert.equal(lower.error?.code, 14);
      assert.equal(upper.error?.code, 14);
    });

    it("serves /health, /ready and /metrics", async () => {
      const health = await fetch(`${url()}/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });
      const ready = await fetch(`${url()}/ready`);
      assert.equal(ready.status, 200);
      assert.equal(((await ready.json()) as { status: string }).status, "ok");
      const metrics = await fetch(`${url()}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /# TYPE \w+ (counter|histogram|gauge)/);
    });
  });

  describe("transport limits", () => {
    it("refuses a client's connection beyond 256 open ones with HTTP 429", async () => {
      // A loopback address of its own, so the suite's other connections do not count.
      const client = "127.0.0.77";
      const { port } = new URL(url());
      const open = () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect({ host: "127.0.0.1", port: Number(port), localAddress: client });
          s.once("connect", () => resolve(s));
          s.once("error", reject);
        });
      const held: Socket[] = [];
      try {
        for (let i = 0; i < 256; i++) held.push(await open());
        const extra = await open();
        held.push(extra);
        const answer = await new Promise<string>((resolve) => {
          let text = "";
          extra.on("data", (d) => {
            text += d.toString();
          });
          extra.on("error", () => undefined);
          extra.once("close", () => resolve(text));
          extra.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        });
        assert.match(answer, /^HTTP\/1\.1 429 /);
        const metrics = await (await fetch(`${url()}/metrics`)).text();
        assert.match(metrics, /^pmx_gateway_connections_refused_total [1-9]/m);
      } finally {
        for (const s of held) s.destroy();
      }
    });
  });

  describe("JSON-RPC over WebSocket", () => {
    it("answers a request, a batch, a parse error and an invalid request, and is silent for notifications", async () => {
      const ws = await WsClient.open(url());
      try {
        const unauth = await ws.call("pkiAdmin/listHosts");
        assert.equal(unauth.error?.code, 14);
        assert.equal((await ws.call("auth/bindAccessToken", { accessToken: ctx().admin.accessToken })).result, "OK");

        const single = await ws.call("no/such");
        assert.equal(single.error?.code, -32601);

        ws.send(
          JSON.stringify([
            { jsonrpc: "2.0", id: 1, method: "no/such" },
            { jsonrpc: "2.0", method: "no/such" },
            { jsonrpc: "2.0", id: 2, method: "no/such" },
          ]),
        );
        const batch = JSON.parse((await ws.next()) ?? "null") as RpcReply[];
        assert.deepEqual(batch.map((r) => r.id).sort(), [1, 2]);

        ws.send("{not json");
        const parse = JSON.parse((await ws.next()) ?? "null") as RpcReply;
        assert.equal(parse.error?.code, -32700);
        assert.equal(parse.id, null);

        ws.send(JSON.stringify({ jsonrpc: "2.0", id: 3, method: 12 }));
        const invalid = JSON.parse((await ws.next()) ?? "null") as RpcReply;
        assert.equal(invalid.error?.code, -32600);

        ws.send("[]");
        const empty = JSON.parse((await ws.next()) ?? "null") as RpcReply;
        assert.equal(empty.error?.code, -32600);

        ws.send(JSON.stringify([{ jsonrpc: "2.0", method: "no/such" }]));
        ws.send(JSON.stringify({ jsonrpc: "2.0", method: "no/such" }));
        assert.equal(await ws.next(500), undefined, "notifications get no message");

        const params = await ws.call("pki/getKeyHistory", { userId: "u" });
        assert.equal(params.error?.code, -32602);
        assert.equal(params.error?.data, "userId -> Invalid length! Expected min 3, get 1");
      } finally {
        ws.close();
      }
    });

    it("answers every one of many requests sent without waiting, in order", async () => {
      const ws = await WsClient.open(url(), auth());
      try {
        const n = 200;
        for (let i = 0; i < n; i++) ws.send(rpcBody("pkiAdmin/listHosts", {}, `p${i}`));
        for (let i = 0; i < n; i++) {
          const reply = JSON.parse((await ws.next()) ?? "null") as RpcReply;
          assert.equal(reply.id, `p${i}`);
          assert.ok(Array.isArray(reply.result));
        }
      } finally {
        ws.close();
      }
    });

    it("closes with 1007 on invalid UTF-8 and refuses binary frames with 1003", async () => {
      for (const [payload, binary, expected] of [
        [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false, 1007],
        [Buffer.from(rpcBody("no/such")), true, 1003],
      ] as const) {
        const ws = await WsClient.open(url());
        const closed = new Promise<number>((resolve) => ws.socket.once("close", (code) => resolve(code)));
        ws.socket.on("error", () => undefined);
        ws.socket.send(payload, { binary });
        assert.equal(await closed, expected);
      }
    });

    it("closes the connection when a message exceeds 1 MiB", async () => {
      const ws = await WsClient.open(url());
      const closed = new Promise<number>((resolve) => ws.socket.once("close", (code) => resolve(code)));
      ws.send(rpcBody("pki/getHost", { hostUrl: "x".repeat(1024 * 1024 + 10) }));
      assert.equal(await closed, 1009);
    });
  });
}
