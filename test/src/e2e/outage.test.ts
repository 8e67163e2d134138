import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startDistributed } from "@pkiserver/server";
import { type LocalServer, startLocalMongo, startLocalNats } from "@pkiserver/test-harness";
import { bearer, call, ok } from "../support/client";
import { randomPubKey } from "../support/keys";
import { distributedEnv, SERVER_TEST_ENV } from "../support/server-env";
import { pollUntil } from "../support/wait";

/** Polls `probe` until it returns true (a probe that throws, as during an outage, has not yet), or fails after `ms`. */
const eventually = (what: string, ms: number, probe: () => Promise<boolean>) =>
  pollUntil(what, () => probe().catch(() => false), ms, 250);

/**
 * The distributed form on a private MongoDB-compatible server and a private
 * nats-server that the test stops and starts: calls fail cleanly, /ready
 * says so, and service resumes by itself.
 */
describe("outages of MongoDB and NATS (distributed form)", () => {
  let mongo: LocalServer;
  let nats: LocalServer;
  let system: Awaited<ReturnType<typeof startDistributed>>;
  let h: Record<string, string>;
  const logs: string[] = [];

  before(async () => {
    mongo = await startLocalMongo();
    nats = await startLocalNats();
    system = await startDistributed({
      env: {
        ...SERVER_TEST_ENV,
        ...(await distributedEnv({ mongoUrl: mongo.url, natsUrl: nats.url }, "outage")),
      },
      onOutput: (_n, line) => logs.push(line),
    });
    const key = system.firstKey;
    assert.ok(key, "the launcher created a first key");
    const t = await ok<{ accessToken: string }>(system.url, "auth/token", {
      grantType: "client_credentials",
      clientId: key.apiKeyId,
      clientSecret: key.apiKeySecret,
      scope: [],
    });
    h = bearer(t.accessToken);
  });

  after(async () => {
    await system?.stop();
    await mongo?.dispose();
    await nats?.dispose();
  });

  const ready = async () => (await fetch(`${system.url}/ready`)).status;

  it("answers -32603 without detail while MongoDB is down, turns /ready 503, and recovers by itself", async () => {
    assert.equal(await ready(), 200);
    await ok(system.url, "pkiAdmin/listHosts", {}, h);
    await mongo.stop();
    try {
      const reply = await call(system.url, "pkiAdmin/listHosts", {}, h);
      assert.deepEqual(reply.error, { code: -32603, message: "Internal error", data: null });
      await eventually("/ready turning 503", 20_000, async () => (await ready()) === 503);
      const body = await (await fetch(`${system.url}/ready`)).text();
      assert.match(body, /"status":"error"/);
      assert.doesNotMatch(body, /mongo|ECONN|127\.0\.0\.1/i, "no internal detail in /ready");
    } finally {
      await mongo.restart();
    }
    await eventually("calls succeeding again", 60_000, async () => {
      const r = await call(system.url, "pkiAdmin/listHosts", {}, h);
      return Array.isArray(r.result);
    });
    await eventually("/ready turning 200", 20_000, async () => (await ready()) === 200);
  });

  it("turns /ready 503 while NATS is down, keeps accepting writes, and recovers by itself; no audit event is lost", async () => {
    let apiKeyId = "";
    await nats.stop();
    try {
      await eventually("/ready turning 503", 20_000, async () => (await ready()) === 503);
      const host = randomPubKey();
      assert.equal(
        await ok(system.url, "pkiAdmin/setHost", { hostPubKey: host, hostUrl: `n-${host.slice(0, 8)}` }, h),
        host,
      );
      const clientSecret = randomBytes(24).toString("base64url");
      ({ apiKeyId } = await ok<{ apiKeyId: string }>(
        system.url,
        "user/addApiKey",
        { type: "secret", name: "while-nats-down", clientSecret, maxScope: ["pki:read"] },
        h,
      ));
    } finally {
      await nats.restart();
    }
    await eventually("/ready turning 200", 30_000, async () => (await ready()) === 200);
    await ok(system.url, "pkiAdmin/listHosts", {}, h);
    // The event of the write made during the outage reaches the audit log once NATS is back, once.
    type Page = { events: { type: string }[] };
    const auditOf = () => ok<Page>(system.url, "audit/listEvents", { apiKeyId, limit: 100 }, h);
    await eventually("the key created during the outage in the audit log", 30_000, async () =>
      (await auditOf()).events.some((e) => e.type === "apikey.created"),
    );
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(
      (await auditOf()).events.map((e) => e.type),
      ["apikey.created"],
    );
  });
});
