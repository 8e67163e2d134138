import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { getInfra } from "@pkiserver/test-harness";
import { basic, bearer, ok, rpcBody, WsClient } from "../support/client";
import { startForm } from "../support/forms";
import { randomPubKey } from "../support/keys";
import { tokenFor } from "./auth.suite";

/**
 * Stopping the one-process form while requests are in flight: the gateway
 * stops accepting and finishes what it holds, the services finish their
 * running calls, and only then are MongoDB and NATS closed, so no request
 * fails as an internal error on the way down.
 */
describe("embedded form stopped under load", () => {
  async function start() {
    const infra = await getInfra();
    const name = infra.freshName("shutdown");
    const sys = await startForm("embedded", {
      PMX_MONGO_URL: infra.mongoUrl,
      PMX_MONGO_DB: name,
      PMX_NATS_URL: infra.natsUrl,
      PMX_NATS_PREFIX: name,
      PMX_SECRET_KEY: `k1:${randomBytes(32).toString("base64")}`,
    });
    const key = await ok<{ apiKeyId: string; apiKeySecret: string }>(sys.url, "auth/createFirstApiKey", {
      initializationToken: sys.initToken,
      name: "shutdown",
    });
    const token = await tokenFor(sys.url, key.apiKeyId, key.apiKeySecret);
    return { sys, admin: bearer(token.accessToken), keyed: basic(key.apiKeyId, key.apiKeySecret) };
  }

  const setHost = (url: string, headers: Record<string, string>, signal?: AbortSignal) => {
    const host = randomPubKey();
    return fetch(`${url}/main`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: rpcBody("pkiAdmin/setHost", { hostPubKey: host, hostUrl: `h-${host.slice(0, 12)}.example` }),
      ...(signal ? { signal } : {}),
    }).then(
      (r) => r.arrayBuffer(),
      () => undefined,
    );
  };

  /** Checks the logs some time after stop() returned: nothing may still be running by then. */
  async function assertNoFailureLogged(logs: readonly string[]): Promise<void> {
    const atStop = logs.length;
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(logs.slice(atStop), [], "nothing ran after stop() returned");
    const failures = logs.filter((l) => ((JSON.parse(l) as { level?: number }).level ?? 0) >= 50);
    assert.deepEqual(failures, [], "no error lines while stopping");
    assert.equal(
      logs.some((l) => /MongoClientClosed|-32603/.test(l)),
      false,
    );
    for (const l of logs) assert.ok((l.match(/"requestId"/g)?.length ?? 0) <= 1, `requestId twice: ${l}`);
  }

  it("finishes requests whose clients hung up before closing what they use", async () => {
    const { sys, admin, keyed } = await start();
    try {
      // A WebSocket client queues many writes and vanishes; HTTP clients give up right after sending.
      const ws = await WsClient.open(sys.url, admin);
      for (let i = 0; i < 200; i++) {
        const host = randomPubKey();
        ws.send(rpcBody("pkiAdmin/setHost", { hostPubKey: host, hostUrl: `w-${host.slice(0, 12)}.example` }));
      }
      await ws.next();
      const aborted = Array.from({ length: 20 }, (_, i) => {
        const abort = new AbortController();
        const sent = setHost(sys.url, i % 2 ? admin : keyed, abort.signal);
        setTimeout(() => abort.abort(), 20);
        return sent;
      });
      ws.socket.terminate();
      await Promise.all(aborted);
      const started = Date.now();
      await sys.stop();
      assert.ok(Date.now() - started < 15_000, `stopped in ${Date.now() - started} ms`);
    } finally {
      await sys.stop().catch(() => undefined);
    }
    await assertNoFailureLogged(sys.logs);
  });

  it("stops within its grace while clients keep sending over HTTP and WebSocket, logging no internal error", async () => {
    const { sys, admin, keyed } = await start();
    let stopped = false;
    const loops: Promise<void>[] = [];
    try {
      // Writers over HTTP, some of whom hang up without waiting for their answer.
      for (let w = 0; w < 12; w++) {
        loops.push(
          (async () => {
            while (!stopped) {
              const abort = new AbortController();
              if (w % 3 === 0) setTimeout(() => abort.abort(), 5);
              await setHost(sys.url, w % 2 ? admin : keyed, abort.signal);
            }
          })(),
        );
      }
      // A WebSocket with a long queue of writes.
      const ws = await WsClient.open(sys.url, admin);
      for (let i = 0; i < 200; i++) {
        const host = randomPubKey();
        ws.send(rpcBody("pkiAdmin/setHost", { hostPubKey: host, hostUrl: `w-${host.slice(0, 12)}.example` }));
      }
      await ws.next();
      await new Promise((r) => setTimeout(r, 300));

      const started = Date.now();
      await sys.stop();
      stopped = true;
      assert.ok(Date.now() - started < 15_000, `stopped in ${Date.now() - started} ms`);
    } finally {
      stopped = true;
      await Promise.all(loops);
      await sys.stop().catch(() => undefined);
    }
    await assertNoFailureLogged(sys.logs);
  });
});
