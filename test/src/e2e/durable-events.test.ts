import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type DistributedSystem, startDistributed } from "@pkiserver/server";
import { getInfra } from "@pkiserver/test-harness";
import { bearer, call, ok, okWhenAvailable } from "../support/client";
import { distributedEnv, SERVER_TEST_ENV } from "../support/server-env";
import { pollUntil } from "../support/wait";
import { tokenFor } from "./auth.suite";

/** Polls `probe` until it returns true (a probe that throws, as during an outage, has not yet), or fails after `ms`. */
const eventually = (what: string, ms: number, probe: () => Promise<boolean>) =>
  pollUntil(what, () => probe().catch(() => false), ms, 200);

/** Holds a service's events before NATS for longer than any test runs. */
const HOLD_EVENTS = { PMX_TEST_EVENT_PUBLISH_DELAY_MS: "600000" };

/**
 * The distributed form, where a service process dies (SIGKILL) after a write
 * was answered and before its event reached NATS: the event is delivered
 * once the service is back, as if it had never died.
 */
describe("events of a service killed between its write and the publication, or while the audit service is down (distributed form)", () => {
  let system: DistributedSystem;
  let admin: Record<string, string>;
  const logs: string[] = [];

  /** Adds a secret key (through the first gateway, as the admin), returning its id and secret. */
  async function addSecretKey(name: string, maxScope: string[]): Promise<{ apiKeyId: string; secret: string }> {
    const secret = randomBytes(24).toString("base64url");
    const { apiKeyId } = await ok<{ apiKeyId: string }>(
      system.url,
      "user/addApiKey",
      { type: "secret", name, clientSecret: secret, maxScope },
      admin,
    );
    return { apiKeyId, secret };
  }

  before(async () => {
    const infra = await getInfra();
    const name = infra.freshName("durable");
    system = await startDistributed({
      env: { ...SERVER_TEST_ENV, ...(await distributedEnv(infra, name)) },
      onOutput: (n, line) => logs.push(`${n}: ${line}`),
    });
    const key = system.firstKey;
    assert.ok(key, "the launcher created a first key");
    admin = bearer((await tokenFor(system.url, key.apiKeyId, key.apiKeySecret)).accessToken);
  });

  after(async () => {
    await system?.stop();
  });

  it("apikey.updated of a disabled key reaches another gateway after apikey restarts", async () => {
    // Gateway B learns of key changes only from events (A applies its own at once).
    const b = await system.startExtraGateway();
    const { apiKeyId, secret } = await addSecretKey("doomed", ["user:read"]);
    const token = bearer((await tokenFor(system.url, apiKeyId, secret)).accessToken);
    await ok(b.url, "user/listApiKeys", {}, token);

    await system.restartProcess("apikey", { env: HOLD_EVENTS });
    // Until the gateway has reconnected to the restarted apikey it answers -32000 (HTTP 503).
    await okWhenAvailable(system.url, "user/updateApiKey", { apiKeyId, enabled: false }, admin);
    // The write is done and answered, the event not yet published: B still takes the token.
    await new Promise((r) => setTimeout(r, 1000));
    await okWhenAvailable(b.url, "user/listApiKeys", {}, token);

    await system.restartProcess("apikey", { signal: "SIGKILL" });
    await eventually(
      "B refusing the disabled key's token",
      30_000,
      // -32000 (HTTP 503) while B reconnects to the restarted apikey does not count either way.
      async () => (await call(b.url, "user/listApiKeys", {}, token).catch(() => undefined))?.error?.code === 75,
    );
    await b.stop();
  });

  it("events published while the audit service is down are recorded once it is back, each once", async () => {
    const listEvents = (params: Record<string, unknown>) => call(system.url, "audit/listEvents", params, admin);
    await ok(system.url, "audit/listEvents", { limit: 1 }, admin);
    const restarting = system.restartProcess("audit", { signal: "SIGKILL" });
    // Seen down (the gateway answers -32000, HTTP 503), so what follows happens in its absence.
    let back = false;
    void restarting.then(() => {
      back = true;
    });
    let down = false;
    while (!down && !back) {
      const reply = await listEvents({ limit: 1 }).catch(() => undefined);
      down = reply === undefined || reply.error !== undefined;
      if (!down) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(down, "the audit service was seen down before it was back");
    const { apiKeyId, secret } = await addSecretKey("while-audit-down", ["pki:read"]);
    const refused = await call(system.url, "auth/token", {
      grantType: "client_credentials",
      clientId: apiKeyId,
      clientSecret: `${secret}x`,
      scope: [],
    });
    assert.equal(refused.error?.code, 12);
    await restarting;
    type Page = { events: { type: string; target: string; details: Record<string, unknown> }[] };
    let events: Page["events"] = [];
    await eventually("the events of the outage in the audit log", 30_000, async () => {
      const reply = await listEvents({ apiKeyId, limit: 100 });
      events = (reply.result as Page | undefined)?.events ?? [];
      return events.some((e) => e.type === "apikey.created") && events.some((e) => e.type === "auth.failed");
    });
    // Redelivered or not, each is recorded once.
    await new Promise((r) => setTimeout(r, 1000));
    const page = await ok<Page>(system.url, "audit/listEvents", { apiKeyId, limit: 100 }, admin);
    assert.deepEqual(page.events.map((e) => e.type).sort(), ["apikey.created", "auth.failed"]);
    assert.equal(page.events.find((e) => e.type === "auth.failed")?.details.reason, "wrong_secret");
  });
});
