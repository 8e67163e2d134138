import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { BusMessage, EventBus, SubscribeOptions } from "./bus";

export interface BusUnderTest {
  bus: EventBus;
  cleanup(): Promise<void>;
}

export interface BusContractOptions {
  /** How long to wait before concluding that nothing more arrives; 400 ms by default. */
  settleMs?: number;
  /** How long to wait for an expected delivery; 10 s by default. */
  deliveryTimeoutMs?: number;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The guarantees every EventBus adapter gives, as node:test cases. `makeBus`
 * returns a bus that shares no events or consumers with any other it returned.
 */
export function busContract(
  name: string,
  makeBus: () => Promise<BusUnderTest>,
  options: BusContractOptions = {},
): void {
  // Loaded here, not at the top, so processes that import the kit for its
  // runtime parts never load the test runner.
  const { describe, it } = require("node:test") as typeof import("node:test");
  const settleMs = options.settleMs ?? 400;
  const timeoutMs = options.deliveryTimeoutMs ?? 10_000;

  /** Subscribes and records what arrives; `until(n)` waits for n deliveries. */
  async function record(bus: EventBus, opts: Omit<SubscribeOptions, "handler">, handler?: (m: BusMessage) => void) {
    const got: BusMessage[] = [];
    const sub = await bus.subscribe({
      ...opts,
      handler: async (m) => {
        handler?.(m);
        got.push(m);
      },
    });
    const until = async (n: number) => {
      const deadline = Date.now() + timeoutMs;
      while (got.length < n) {
        if (Date.now() > deadline) assert.fail(`expected ${n} deliveries, got ${got.length} after ${timeoutMs} ms`);
        await sleep(20);
      }
    };
    return { got, sub, until };
  }

  async function withBus(fn: (bus: EventBus) => Promise<void>): Promise<void> {
    const { bus, cleanup } = await makeBus();
    try {
      await fn(bus);
    } finally {
      await cleanup();
    }
  }

  describe(`EventBus contract: ${name}`, () => {
    it("delivers a published event to a matching subscriber with its subject, data and id", () =>
      withBus(async (bus) => {
        const r = await record(bus, { subjects: ["apikey.v1.>"], deliver: "new" });
        await bus.publish("apikey.v1.apikey.created", enc("one"), { id: "evt-1" });
        await r.until(1);
        assert.equal(r.got[0]?.subject, "apikey.v1.apikey.created");
        assert.equal(dec(r.got[0]?.data ?? new Uint8Array()), "one");
        assert.equal(r.got[0]?.id, "evt-1");
        await r.sub.stop();
      }));

    it("gives an event without an explicit id a unique one", () =>
      withBus(async (bus) => {
        const r = await record(bus, { subjects: ["apikey.v1.>"], deliver: "new" });
        await bus.publish("apikey.v1.apikey.created", enc("a"));
        await bus.publish("apikey.v1.apikey.created", enc("b"));
        await r.until(2);
        assert.ok(r.got[0]?.id);
        assert.notEqual(r.got[0]?.id, r.got[1]?.id);
        await r.sub.stop();
      }));

    it("routes by `*` and `>` wildcards, also across services, and nothing else", () =>
      withBus(async (bus) => {
        const registered = await record(bus, { subjects: ["pki.v1.*.registered"], deliver: "new" });
        const auth = await record(bus, { subjects: ["auth.v1.>"], deliver: "new" });
        const deleted = await record(bus, { subjects: ["*.v1.*.deleted"], deliver: "new" });
        await bus.publish("pki.v1.host.registered", enc("r"));
        await bus.publish("pki.v1.host.deleted", enc("d1"));
        await bus.publish("auth.v1.session.revoked", enc("s"));
        await bus.publish("apikey.v1.apikey.deleted", enc("d2"));
        await bus.publish("apikey.v1.apikey.created", enc("c"));
        await Promise.all([registered.until(1), auth.until(1), deleted.until(2)]);
        await sleep(settleMs);
        assert.deepEqual(
          registered.got.map((m) => m.subject),
          ["pki.v1.host.registered"],
        );
        assert.deepEqual(
          auth.got.map((m) => m.subject),
          ["auth.v1.session.revoked"],
        );
        assert.deepEqual(deleted.got.map((m) => m.subject).sort(), ["apikey.v1.apikey.deleted", "pki.v1.host.deleted"]);
        await Promise.all([registered.sub.stop(), auth.sub.stop(), deleted.sub.stop()]);
      }));

    it("`deliver: all` replays events published before the subscription", () =>
      withBus(async (bus) => {
        await bus.publish("auth.v1.session.revoked", enc("early-1"));
        await bus.publish("auth.v1.session.revoked", enc("early-2"));
        const r = await record(bus, { subjects: ["auth.v1.>"], deliver: "all" });
        await bus.publish("auth.v1.session.revoked", enc("late"));
        await r.until(3);
        assert.deepEqual(
          r.got.map((m) => dec(m.data)),
          ["early-1", "early-2", "late"],
        );
        await r.sub.stop();
      }));

    it("`deliver: new` does not replay events published before the subscription", () =>
      withBus(async (bus) => {
        await bus.publish("auth.v1.session.revoked", enc("early"));
        const r = await record(bus, { subjects: ["auth.v1.>"], deliver: "new" });
        await bus.publish("auth.v1.session.revoked", enc("late"));
        await r.until(1);
        await sleep(settleMs);
        assert.deepEqual(
          r.got.map((m) => dec(m.data)),
          ["late"],
        );
        await r.sub.stop();
      }));

    it("a durable consumer resumes after stop: acknowledged events are not redelivered, missed ones are", () =>
      withBus(async (bus) => {
        const durable = `d_${randomUUID().slice(0, 8)}`;
        const first = await record(bus, { durable, subjects: ["pki.v1.>"], deliver: "all" });
        await bus.publish("pki.v1.userkey.set", enc("seen"));
        await first.until(1);
        await first.sub.stop();
        await bus.publish("pki.v1.userkey.set", enc("missed-1"));
        await bus.publish("pki.v1.userkey.deleted", enc("missed-2"));
        const second = await record(bus, { durable, subjects: ["pki.v1.>"], deliver: "all" });
        await second.until(2);
        await sleep(settleMs);
        assert.deepEqual(
          second.got.map((m) => dec(m.data)),
          ["missed-1", "missed-2"],
        );
        await second.sub.stop();
      }));

    it("a durable consumer started with `deliver: new` gets the events published while it was stopped", () =>
      withBus(async (bus) => {
        const durable = `n_${randomUUID().slice(0, 8)}`;
        await bus.publish("pki.v1.host.changed", enc("before"));
        const first = await record(bus, { durable, subjects: ["pki.v1.>"], deliver: "new" });
        await sleep(settleMs);
        await first.sub.stop();
        await bus.publish("pki.v1.host.changed", enc("missed"));
        const second = await record(bus, { durable, subjects: ["pki.v1.>"], deliver: "new" });
        await second.until(1);
        await sleep(settleMs);
        assert.deepEqual(first.got, []);
        assert.deepEqual(
          second.got.map((m) => dec(m.data)),
          ["missed"],
        );
        await second.sub.stop();
      }));

    it("an event whose handler rejects is redelivered until it is handled", () =>
      withBus(async (bus) => {
        let attempts = 0;
        const handled: string[] = [];
        const sub = await bus.subscribe({
          subjects: ["apikey.v1.>"],
          deliver: "new",
          handler: async (m) => {
            attempts++;
            if (attempts < 3) throw new Error("not yet");
            handled.push(dec(m.data));
          },
        });
        await bus.publish("apikey.v1.apikey.updated", enc("retry-me"));
        const deadline = Date.now() + timeoutMs;
        while (handled.length === 0 && Date.now() < deadline) await sleep(20);
        await sleep(settleMs);
        assert.deepEqual(handled, ["retry-me"]);
        assert.equal(attempts, 3);
        await sub.stop();
      }));

    it("an id published twice is delivered once", () =>
      withBus(async (bus) => {
        const r = await record(bus, { subjects: ["pki.v1.>"], deliver: "new" });
        await bus.publish("pki.v1.host.changed", enc("first"), { id: "same-id" });
        await bus.publish("pki.v1.host.changed", enc("retry"), { id: "same-id" });
        await bus.publish("pki.v1.host.changed", enc("other"), { id: "other-id" });
        await r.until(2);
        await sleep(settleMs);
        assert.deepEqual(
          r.got.map((m) => [m.id, dec(m.data)]),
          [
            ["same-id", "first"],
            ["other-id", "other"],
          ],
        );
        await r.sub.stop();
      }));

    it("headers are delivered as published", () =>
      withBus(async (bus) => {
        const r = await record(bus, { subjects: ["auth.v1.>"], deliver: "new" });
        const headers = { "x-request-id": "req-42", "x-caller": "key-1" };
        await bus.publish("auth.v1.signingkey.rotated", enc("h"), { headers });
        await r.until(1);
        for (const [k, v] of Object.entries(headers)) assert.equal(r.got[0]?.headers[k], v, `header ${k}`);
        await r.sub.stop();
      }));

    it("reports ready while open and not after close", async () => {
      const { bus, cleanup } = await makeBus();
      try {
        assert.equal(bus.isReady(), true);
        await bus.close();
        assert.equal(bus.isReady(), false);
      } finally {
        await cleanup();
      }
    });
  });
}
