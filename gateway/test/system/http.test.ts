import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { PkiStores, TestKey, TestSystem } from "@pkiserver/testing";
import { post, rpc, startTestSystem, VALID_KEY_1, withTestSystem } from "@pkiserver/testing";

/** A key-history store whose record for user "brk" carries customData that is not JSON: broken stored data. */
function brokenRecordOf(stores: PkiStores): PkiStores {
  const keys = stores.keys;
  const broken = {
    userId: "brk",
    instanceId: VALID_KEY_1,
    contextId: "ctx",
    seq: 1,
    createDate: 1,
    userPubKey: VALID_KEY_1,
    customData: "{x",
  };
  return {
    hosts: stores.hosts,
    keys: {
      append: (ref, next, clock) => keys.append(ref, next, clock),
      latest: async (ref) => (ref.userId === "brk" ? broken : keys.latest(ref)),
      at: (ref, date) => keys.at(ref, date),
      history: (ref) => keys.history(ref),
    },
  };
}

describe("JSON-RPC over HTTP", () => {
  let gw: TestSystem;
  let admin: TestKey;
  /** Basic credentials of a key holding every scope. */
  let ADMIN: string;
  before(async () => {
    gw = await startTestSystem({ env: { PMX_RATE_LIMIT_PER_MINUTE: "0" }, pki: { wrapStores: brokenRecordOf } });
    admin = await gw.addKey({
      secret: "admin-secret-admin-secret-admin-secret",
      maxScope: ["user:read_write", "pki:read_write", "pkiadmin:read_write"],
    });
    ADMIN = admin.basic;
  });
  after(async () => gw.close());

  it("answers a request with HTTP 200, application/json and a result", async () => {
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}, 7), { authorization: ADMIN });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(res.json, { jsonrpc: "2.0", id: 7, result: [] });
  });

  it("accepts a Content-Type with parameters", async () => {
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}), {
      authorization: ADMIN,
      "content-type": "application/json; charset=utf-8",
    });
    assert.deepEqual(res.json, { jsonrpc: "2.0", id: 1, result: [] });
  });

  it("refuses another Content-Type with -32700 'Invalid Content-Type'", async () => {
    const res = await post(gw, rpc("pkiAdmin/listHosts", {}), { "content-type": "text/plain" });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, message: "Parse error", data: "Invalid Content-Type" },
    });
  });

  it("answers other HTTP methods on /main with -32605", async () => {
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      const res = await fetch(gw.rpcUrl, { method });
      assert.equal(res.status, 200, method);
      assert.deepEqual(await res.json(), {
        jsonrpc: "2.0",
        id: null,
        error: { code: -32605, message: "Only post method allowed", data: null },
      });
    }
  });

  it("answers an unparseable body with -32700 and id null", async () => {
    const res = await post(gw, '{"jsonrpc":"2.0","id":1,');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, message: "Parse error", data: null },
    });
  });

  it("answers invalid request objects with -32600", async () => {
    const bad: unknown[] = [
      { id: 1, method: "pkiAdmin/listHosts" },
      { jsonrpc: "1.0", id: 1, method: "pkiAdmin/listHosts" },
      { jsonrpc: "2.0", id: 1, method: 5 },
      { jsonrpc: "2.0", id: { x: 1 }, method: "pkiAdmin/listHosts" },
      { jsonrpc: "2.0", id: 1, method: "pkiAdmin/listHosts", params: "x" },
      { jsonrpc: "2.0", id: 1, method: "pkiAdmin/listHosts", params: null },
      '"just a string"',
      "42",
    ];
    for (const body of bad) {
      const res = await post(gw, body, { authorization: ADMIN });
      const reply = res.json as { error: { code: number; message: string } };
      assert.equal(reply.error.code, -32600, JSON.stringify(body));
      assert.equal(reply.error.message, "Invalid request");
    }
  });

  it("answers an unknown method with -32601", async () => {
    const res = await post(gw, rpc("pki/nope", {}, "x"));
    assert.deepEqual(res.json, {
      jsonrpc: "2.0",
      id: "x",
      error: { code: -32601, message: "Method not found", data: null },
    });
  });

  it("accepts the pkiadmin/ spelling of the admin namespace", async () => {
    const res = await post(gw, rpc("pkiadmin/listHosts", {}), { authorization: ADMIN });
    assert.deepEqual(res.json, { jsonrpc: "2.0", id: 1, result: [] });
  });

  it("answers a batch with one reply per request that has an id, notifications silent", async () => {
    const res = await post(
      gw,
      [
        rpc("pkiAdmin/listHosts", {}, 1),
        { jsonrpc: "2.0", method: "pkiAdmin/listHosts", params: {} },
        rpc("pki/nope", {}, 2),
        { foo: 1 },
      ],
      { authorization: ADMIN },
    );
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, [
      { jsonrpc: "2.0", id: 1, result: [] },
      { jsonrpc: "2.0", id: 2, error: { code: -32601, message: "Method not found", data: null } },
      { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid request", data: null } },
    ]);
  });

  it("refuses an empty batch and a batch of more than 100 with -32600", async () => {
    const empty = await post(gw, []);
    assert.equal((empty.json as { error: { code: number } }).error.code, -32600);
    const big = await post(
      gw,
      Array.from({ length: 101 }, (_, i) => rpc("pki/nope", {}, i)),
    );
    assert.equal(Array.isArray(big.json), false);
    assert.equal((big.json as { error: { code: number } }).error.code, -32600);
    const hundred = await post(
      gw,
      Array.from({ length: 100 }, (_, i) => rpc("pki/nope", {}, i)),
    );
    assert.equal((hundred.json as unknown[]).length, 100);
  });

  it("runs notifications and answers a batch of only notifications with HTTP 204", async () => {
    const hostCount = async () => (await gw.services.pki.listHosts({})).hosts.length;
    const before = await hostCount();
    const res = await post(
      gw,
      [
        {
          jsonrpc: "2.0",
          method: "pkiAdmin/setHost",
          params: { hostPubKey: VALID_KEY_1, hostUrl: "https://n.example" },
        },
        { jsonrpc: "2.0", method: "pki/nope" },
      ],
      { authorization: ADMIN },
    );
    assert.equal(res.status, 204);
    assert.equal(res.text, "");
    assert.equal(await hostCount(), before + 1);
    const single = await post(gw, { jsonrpc: "2.0", method: "pkiAdmin/listHosts" }, { authorization: ADMIN });
    assert.equal(single.status, 204);
    await gw.services.pki.deleteHost({ instanceId: VALID_KEY_1 });
  });

  it("refuses a body over 1 MiB with HTTP 413", async () => {
    const res = await post(
      gw,
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "x", params: { p: "a".repeat(1024 * 1024) } }),
    );
    assert.equal(res.status, 413);
  });

  it("refuses unknown params keys with -32602 naming the key", async () => {
    const res = await post(gw, rpc("pkiAdmin/listHosts", { foo: 1 }), { authorization: ADMIN });
    assert.deepEqual(res.json, {
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32602, message: "Invalid params", data: "Unexpected key 'foo'" },
    });
  });

  it("reports validation failures with the path of the field", async () => {
    const cases: [string, unknown, string][] = [
      [
        "pki/getCurrentKey",
        { userId: "a", instanceId: VALID_KEY_1, contextId: "ctx" },
        "userId -> Invalid length! Expected min 3, get 1",
      ],
      ["pki/getCurrentKey", { instanceId: VALID_KEY_1, contextId: "ctx" }, "Key 'userId' is required"],
      [
        "pki/getCurrentKey",
        { userId: "abc", instanceId: "nope", contextId: "ctx" },
        "instanceId -> Invalid public key",
      ],
      ["user/updateApiKey", { apiKeyId: "abc", maxScope: [5] }, "maxScope -> 0 -> Expected string"],
      [
        "pki/getKeyAt",
        { userId: "abc", instanceId: VALID_KEY_1, contextId: "ctx", date: -1 },
        "date -> Invalid value! Expected min 0, get -1",
      ],
      ["pki/getHost", {}, "Expected at least one of 'instanceId', 'hostUrl'"],
      [
        "pkiAdmin/setHost",
        { hostPubKey: VALID_KEY_1, hostUrl: "ab" },
        "hostUrl -> Invalid length! Expected min 3, get 2",
      ],
      ["user/addApiKey", { type: "secret", name: "n", maxScope: [] }, "Key 'clientSecret' is required"],
      ["user/addApiKey", { type: "pubKey", name: "n", maxScope: [] }, "Key 'clientPubKey' is required"],
      [
        "pkiAdmin/setKey",
        {
          userId: "abc",
          instanceId: VALID_KEY_1,
          contextId: "ctx",
          userPubKey: VALID_KEY_1,
          customData: "x".repeat(5000),
        },
        "customData -> Serialised value too long! Expected max 4096 bytes, get 5002",
      ],
    ];
    for (const [method, params, data] of cases) {
      const res = await post(gw, rpc(method, params), { authorization: ADMIN });
      assert.deepEqual(
        (res.json as { error: unknown }).error,
        { code: -32602, message: "Invalid params", data },
        method,
      );
    }
  });

  it("refuses params given as an array, except an empty one for a method without required keys", async () => {
    const listed = await post(gw, rpc("pkiAdmin/listHosts", []), { authorization: ADMIN });
    assert.deepEqual(listed.json, { jsonrpc: "2.0", id: 1, result: [] });
    const positional = await post(gw, rpc("user/getApiKey", ["abc"]), { authorization: ADMIN });
    assert.equal((positional.json as { error: { code: number } }).error.code, -32602);
  });

  it("validates auth/token by grant type", async () => {
    const res = await post(gw, rpc("auth/token", { grantType: "password" }));
    assert.deepEqual((res.json as { error: unknown }).error, {
      code: -32602,
      message: "Invalid params",
      data: "grantType -> Expected one of 'client_credentials', 'refresh_token', 'client_signature'",
    });
    const short = await post(
      gw,
      rpc("auth/token", { grantType: "client_credentials", clientId: "admin-key", clientSecret: "short", scope: [] }),
    );
    assert.equal(
      (short.json as { error: { data: string } }).error.data,
      "clientSecret -> Invalid length! Expected min 32, get 5",
    );
  });

  it("answers auth/bindAccessToken over HTTP with 59", async () => {
    const res = await post(gw, rpc("auth/bindAccessToken", { accessToken: "x" }));
    assert.deepEqual((res.json as { error: unknown }).error, {
      code: 59,
      message: "Method is callable with websocket only",
      data: null,
    });
  });

  it("sets x-request-id on every reply and passes it to the services", async () => {
    const generated = await post(gw, rpc("pkiAdmin/listHosts", {}), { authorization: ADMIN });
    const id = generated.headers.get("x-request-id") ?? "";
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.ok(gw.calls.some((c) => c.rpc === "listHosts" && c.requestId === id && c.callerKeyId === admin.apiKeyId));

    const given = await post(gw, rpc("pkiAdmin/listHosts", {}), {
      authorization: ADMIN,
      "x-request-id": "trace-123.A_b",
    });
    assert.equal(given.headers.get("x-request-id"), "trace-123.A_b");
    const insane = await post(gw, rpc("pkiAdmin/listHosts", {}), { "x-request-id": "bad id with spaces" });
    assert.notEqual(insane.headers.get("x-request-id"), "bad id with spaces");
    const parseErr = await post(gw, "{");
    assert.ok(parseErr.headers.get("x-request-id"));
  });

  it("maps a service error to its catalogue code and message", async () => {
    const res = await post(gw, rpc("user/getApiKey", { apiKeyId: "missing" }), { authorization: ADMIN });
    assert.deepEqual((res.json as { error: unknown }).error, {
      code: 71,
      message: "Api key does not exist",
      data: null,
    });
  });

  it("hides an internal failure behind -32603 and logs its detail under the request id", async () => {
    // A stored record whose customData is not JSON (brokenRecordOf): a broken contract, never the caller's fault.
    const res = await post(gw, rpc("pki/getCurrentKey", { userId: "brk", instanceId: VALID_KEY_1, contextId: "ctx" }), {
      authorization: ADMIN,
    });
    assert.equal(res.status, 200);
    assert.deepEqual((res.json as { error: unknown }).error, { code: -32603, message: "Internal error", data: null });
    const requestId = res.headers.get("x-request-id");
    const line = gw.logLines.find((l) => l.requestId === requestId && l.code === -32603);
    assert.ok(line, "a log line for the request");
    assert.match(String(line.err), /customData/);
  });

  it("logs one line per request without params, results or credentials", async () => {
    const marker = "secret-looking-value-0123456789abcdef";
    await post(
      gw,
      rpc("auth/token", { grantType: "client_credentials", clientId: admin.apiKeyId, clientSecret: marker, scope: [] }),
      {
        authorization: ADMIN,
      },
    );
    const text = JSON.stringify(gw.logLines);
    assert.equal(text.includes(marker), false);
    assert.equal(text.includes("admin-secret"), false);
    const line = gw.logLines.find((l) => l.method === "auth/token");
    assert.ok(line && typeof line.requestId === "string" && typeof line.code === "number" && "durationMs" in line);
  });

  it("serves /health, /ready and Prometheus /metrics", async () => {
    assert.deepEqual(await (await fetch(`${gw.url}/health`)).json(), { status: "ok" });
    const ready = await fetch(`${gw.url}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ok" });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(
      metrics,
      /pmx_gateway_rpc_requests_total\{method="pkiAdmin\/listHosts",code="0",transport="http"\} \d+/,
    );
    assert.match(metrics, /pmx_gateway_ws_connections/);
    // Node's and the process's default metrics, unprefixed as stock dashboards query them.
    assert.match(metrics, /^process_cpu_seconds_total \d/m);
    assert.match(metrics, /^# TYPE nodejs_eventloop_lag_seconds gauge/m);
  });

  it("reports not ready with HTTP 503 when a service does not answer", async () => {
    const down = await startTestSystem();
    try {
      // The event bus every service needs goes away.
      await down.bus.close();
      const res = await fetch(`${down.url}/ready`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as { status: string; checks: Record<string, string> };
      assert.equal(body.status, "error");
      assert.equal(body.checks.services, "error");
    } finally {
      await down.close();
    }
  });
});

describe("CORS", () => {
  it("is off by default", async () => {
    await withTestSystem({}, async (gw) => {
      const res = await fetch(`${gw.url}/health`, { headers: { origin: "https://app.example" } });
      assert.equal(res.headers.get("access-control-allow-origin"), null);
    });
  });

  it("allows the listed origins when PMX_CORS_ORIGINS is set, and answers preflights", async () => {
    await withTestSystem({ env: { PMX_CORS_ORIGINS: "https://app.example, https://b.example" } }, async (gw) => {
      const res = await post(gw, rpc("pki/nope", {}), { origin: "https://app.example" });
      assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example");
      const other = await post(gw, rpc("pki/nope", {}), { origin: "https://evil.example" });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
      const preflight = await fetch(gw.rpcUrl, {
        method: "OPTIONS",
        headers: {
          origin: "https://app.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type, authorization",
        },
      });
      assert.ok(preflight.status === 204 || preflight.status === 200);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example");
    });
  });

  it("allows any origin with *", async () => {
    await withTestSystem({ env: { PMX_CORS_ORIGINS: "*" } }, async (gw) => {
      const res = await post(gw, rpc("pki/nope", {}), { origin: "https://any.example" });
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
    });
  });
});
