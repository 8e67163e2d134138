import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type BusMessage,
  createLogger,
  type EventBus,
  type EventDef,
  Events,
  type SubscribeOptions,
} from "@pkiserver/kit";
import type { AuditDeps } from "../../domain/ports";
import { MemoryAuditStore } from "../../storage/memory-audit-store";
import { startAuditConsumer } from "./audit-consumer";
import { toAuditEvents } from "./to-audit-event";

const T = 1_700_000_000_000;
const msg = <V>(def: EventDef<V>, value: V, id = "ev-1"): BusMessage => ({
  subject: def.subject,
  data: def.type.encode(value).finish(),
  headers: {},
  id,
});

describe("bus events → audit events", () => {
  it("marks the installation's first key apart from other creations", () => {
    const base = { apiKeyId: "key-1", name: "first key", maxScope: ["audit:read"], enabled: true, at: T };
    const [first] = toAuditEvents(msg(Events.apiKeyCreated, { ...base, first: true }));
    const [other] = toAuditEvents(msg(Events.apiKeyCreated, { ...base, first: false }));
    assert.equal(first?.type, "apikey.first_created");
    assert.equal(other?.type, "apikey.created");
    assert.deepEqual(other, {
      id: "ev-1",
      time: T,
      type: "apikey.created",
      outcome: "ok",
      actor: {},
      target: "key-1",
      details: { name: "first key", maxScope: ["audit:read"], enabled: true },
    });
  });

  it("records a rotation with the new credential generation and when the previous one stops working", () => {
    const [event] = toAuditEvents(
      msg(Events.apiKeyRotated, {
        apiKeyId: "key-1",
        credentialGeneration: 2,
        previousCredentialExpiresAt: T + 60_000,
        at: T,
      }),
    );
    assert.deepEqual(event, {
      id: "ev-1",
      time: T,
      type: "apikey.rotated",
      outcome: "ok",
      actor: {},
      target: "key-1",
      details: { credentialGeneration: 2, previousCredentialExpiresAt: T + 60_000 },
    });
  });

  it("records an update that disables a key also as apikey.disabled, under an id of its own", () => {
    const events = toAuditEvents(
      msg(Events.apiKeyUpdated, {
        apiKeyId: "key-1",
        name: "k",
        maxScope: [],
        enabled: false,
        previousMaxScope: [],
        previousEnabled: true,
        at: T,
      }),
    );
    assert.deepEqual(
      events.map((e) => [e.type, e.id]),
      [
        ["apikey.updated", "ev-1"],
        ["apikey.disabled", "ev-1.disabled"],
      ],
    );
  });

  it("tells a forked session from one a grant opened", () => {
    const base = { sessionId: "s-2", apiKeyId: "key-1", scope: ["pki:read"], at: T };
    const [opened] = toAuditEvents(msg(Events.sessionOpened, base));
    const [forked] = toAuditEvents(msg(Events.sessionOpened, { ...base, name: "ci", familyId: "s-1" }));
    assert.equal(opened?.type, "session.opened");
    assert.equal(forked?.type, "session.forked");
    assert.deepEqual(forked?.details, { scope: ["pki:read"], name: "ci", family: "s-1" });
  });

  it("gives session revocations the contract's reasons", () => {
    const reasons: Record<string, string> = {
      api_key_deleted: "key_deleted",
      api_key_disabled: "key_disabled",
      api_key_scope_narrowed: "key_narrowed",
      session_limit: "cap",
      refresh_token_reused: "reuse",
      revoked_by_request: "revoked",
    };
    for (const [given, expected] of Object.entries(reasons)) {
      const [e] = toAuditEvents(
        msg(Events.sessionRevoked, { sessionId: "s-1", apiKeyId: "key-1", reason: given, at: T }),
      );
      assert.equal(e?.details.reason, expected, given);
      assert.deepEqual(e?.actor, { apiKeyId: "key-1", sessionId: "s-1" });
    }
  });

  it("records failed authentications as denied, with reason, address and request id", () => {
    const [e] = toAuditEvents(
      msg(Events.requestAuthFailed, {
        reason: "bad_signature",
        method: "signature",
        apiKeyId: "key-1",
        clientIp: "203.0.113.7",
        requestId: "req-9",
        at: T,
      }),
    );
    assert.deepEqual(e, {
      id: "ev-1",
      time: T,
      type: "auth.failed",
      outcome: "denied",
      actor: { apiKeyId: "key-1", ip: "203.0.113.7" },
      target: "key-1",
      requestId: "req-9",
      details: { reason: "bad_signature", method: "signature" },
    });
  });

  it("records apikey's verdict on a refused credential like the others", () => {
    for (const reason of ["replayed_nonce", "disabled_key", "expired_key"]) {
      const [e] = toAuditEvents(
        msg(Events.credentialRefused, {
          reason,
          method: "client_signature",
          apiKeyId: "key-2",
          clientIp: "2001:db8::5",
          requestId: "req-7",
          at: T,
        }),
      );
      assert.equal(e?.type, "auth.failed");
      assert.equal(e?.outcome, "denied");
      assert.deepEqual(e?.actor, { apiKeyId: "key-2", ip: "2001:db8::5" });
      assert.equal(e?.requestId, "req-7");
      assert.deepEqual(e?.details, { reason, method: "client_signature" });
    }
  });

  it("records rate-limit refusals per key, tier and minute", () => {
    const [e] = toAuditEvents(msg(Events.rateLimitRefused, { client: "key:key-1", tier: "pki", minute: T, count: 42 }));
    assert.equal(e?.type, "ratelimit.refused");
    assert.deepEqual(e?.actor, { apiKeyId: "key-1" });
    assert.deepEqual(e?.details, { tier: "pki", count: 42 });
  });

  it("tells added from removed host addresses, and records key writes by their history", () => {
    const host = { instanceId: "inst", hostPubKey: "inst", addresses: ["a"] };
    const [removed] = toAuditEvents(msg(Events.hostChanged, { host, at: T, change: "url_removed", url: "b" }));
    assert.equal(removed?.type, "pki.host_url_removed");
    assert.equal(removed?.details.url, "b");
    const [set] = toAuditEvents(
      msg(Events.userKeySet, {
        record: {
          userId: "u1",
          instanceId: "inst",
          contextId: "ctx",
          userPubKey: "pk",
          createDate: T,
          customDataJson: '{"x":1}',
        },
      }),
    );
    assert.equal(set?.type, "pki.key_set");
    assert.equal(set?.target, "inst/ctx/u1");
    assert.equal(set?.details.customData, undefined);
  });

  it("names the caller and request of the call that published the event, from its headers", () => {
    const m = msg(Events.apiKeyDeleted, { apiKeyId: "key-2", at: T });
    const [e] = toAuditEvents({ ...m, headers: { "pmx-request-id": "req-7", "pmx-caller-key-id": "key-admin" } });
    assert.deepEqual(e?.actor, { apiKeyId: "key-admin" });
    assert.equal(e?.requestId, "req-7");
    assert.equal(e?.target, "key-2");
  });

  it("keeps nothing of events the log does not record (signing-key rotations)", () => {
    assert.deepEqual(toAuditEvents(msg(Events.signingKeyRotated, { kid: "k", publicJwk: "{}", at: T })), []);
  });
});

/** Starts the audit consumer on a bus that only keeps what it subscribed with, and returns that. */
async function consumerSubscription(deps: AuditDeps): Promise<SubscribeOptions | undefined> {
  let opts: SubscribeOptions | undefined;
  const bus = {
    subscribe: async (o: SubscribeOptions) => {
      opts = o;
      return { stop: async () => {} };
    },
  } as unknown as EventBus;
  await startAuditConsumer(bus, deps, createLogger({ name: "test", level: "silent" }));
  return opts;
}

describe("the audit consumer", () => {
  it("records a redelivered event once, and subscribes durably from the oldest retained event", async () => {
    const store = new MemoryAuditStore();
    const opts = await consumerSubscription({ store, clock: { now: () => T }, retentionMs: 3600_000 });
    assert.ok(opts?.durable);
    assert.equal(opts?.deliver, "all");
    const m = msg(Events.apiKeyDeleted, { apiKeyId: "key-1", at: T });
    await opts?.handler(m);
    await opts?.handler(m);
    assert.equal((await store.page({}, "newest", undefined, 10)).length, 1);
  });

  it("skips an undecodable payload instead of having it redelivered forever", async () => {
    const store = new MemoryAuditStore();
    const opts = await consumerSubscription({ store, clock: { now: () => T }, retentionMs: 1 });
    await opts?.handler({
      subject: Events.apiKeyDeleted.subject,
      data: new Uint8Array([0xff, 0xff, 0xff]),
      headers: {},
      id: "x",
    });
  });
});
