import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type BusMessage, MemoryEventBus } from "./bus";
import { busContract } from "./bus-contract";
import { decodeEvent, Events, publishEvent } from "./events";

busContract(
  "MemoryEventBus",
  async () => {
    const bus = new MemoryEventBus(24 * 3600_000, 50);
    return { bus, cleanup: () => bus.close() };
  },
  { settleMs: 100, deliveryTimeoutMs: 3000 },
);

describe("MemoryEventBus limits", () => {
  it("keeps at most maxRetained events for replay and forgets the ids it dropped", async () => {
    const bus = new MemoryEventBus(24 * 3600_000, 50, 3);
    try {
      for (const id of ["e1", "e2", "e3", "e4", "e5"]) await bus.publish("a.v1.x.y", new Uint8Array([1]), { id });
      const seen: string[] = [];
      const sub = await bus.subscribe({
        subjects: ["a.>"],
        deliver: "all",
        handler: async (m) => {
          seen.push(m.id);
        },
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(seen, ["e3", "e4", "e5"], "only the last three are replayed");
      // A retained id is still de-duplicated; a dropped one is an event again.
      await bus.publish("a.v1.x.y", new Uint8Array([1]), { id: "e5" });
      await bus.publish("a.v1.x.y", new Uint8Array([1]), { id: "e1" });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(seen, ["e3", "e4", "e5", "e1"]);
      await sub.stop();
    } finally {
      await bus.close();
    }
  });

  it("replays what it retained as it was published: subject, headers, data and id", async () => {
    const bus = new MemoryEventBus(24 * 3600_000, 50);
    try {
      const data = new Uint8Array([0, 1, 2, 250, 255]);
      await bus.publish("a.v1.x.é", data, { id: "e1", headers: { "pmx-request-id": "r-ü", empty: "" } });
      await bus.publish("a.v1.y.z", new Uint8Array([7]));
      data[0] = 9;
      const seen: BusMessage[] = [];
      const sub = await bus.subscribe({
        subjects: ["a.>"],
        deliver: "all",
        handler: async (m) => {
          seen.push(m);
        },
      });
      await new Promise((r) => setTimeout(r, 50));
      await sub.stop();
      assert.equal(seen.length, 2);
      assert.deepEqual(seen[0], {
        subject: "a.v1.x.é",
        data: new Uint8Array([0, 1, 2, 250, 255]),
        headers: { "pmx-request-id": "r-ü", empty: "" },
        id: "e1",
      });
      assert.equal(seen[1]?.subject, "a.v1.y.z");
      assert.deepEqual(seen[1]?.data, new Uint8Array([7]));
      assert.deepEqual(seen[1]?.headers, {});
      assert.match(seen[1]?.id ?? "", /^[0-9a-f-]{36}$/);
    } finally {
      await bus.close();
    }
  });

  it("keeps at most maxRetainedBytes for replay; an event larger than that is delivered, not retained", async () => {
    const bus = new MemoryEventBus(24 * 3600_000, 50, 1000, 4096);
    try {
      const live: string[] = [];
      const liveSub = await bus.subscribe({
        subjects: ["a.>"],
        deliver: "new",
        handler: async (m) => {
          live.push(m.id);
        },
      });
      for (let n = 0; n < 40; n++) await bus.publish("a.v1.x.y", new Uint8Array(500), { id: `e${n}` });
      await bus.publish("a.v1.x.y", new Uint8Array(5000), { id: "big" });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(live.length, 41, "every event is delivered");
      const replayed: string[] = [];
      const sub = await bus.subscribe({
        subjects: ["a.>"],
        deliver: "all",
        handler: async (m) => {
          replayed.push(m.id);
        },
      });
      await new Promise((r) => setTimeout(r, 50));
      await sub.stop();
      assert.ok(replayed.length >= 2 && replayed.length <= 8, `replayed ${replayed.length}`);
      assert.deepEqual(
        replayed,
        Array.from({ length: replayed.length }, (_, i) => `e${40 - replayed.length + i}`),
      );
      // A dropped or never retained id is an event again.
      await bus.publish("a.v1.x.y", new Uint8Array(1), { id: "big" });
      await bus.publish("a.v1.x.y", new Uint8Array(1), { id: "e0" });
      await new Promise((r) => setTimeout(r, 50));
      await liveSub.stop();
      assert.deepEqual(live.slice(41), ["big", "e0"]);
    } finally {
      await bus.close();
    }
  });

  it("hands its live consumers the published value as decoding would shape it, which decodeEvent returns; a replay decodes", async () => {
    const bus = new MemoryEventBus(24 * 3600_000, 50);
    try {
      const live: BusMessage[] = [];
      const other: BusMessage[] = [];
      const subs = await Promise.all(
        [live, other].map((into) =>
          bus.subscribe({
            subjects: ["auth.>"],
            deliver: "new",
            handler: async (m) => {
              into.push(m);
            },
          }),
        ),
      );
      const value = { sessionId: "s1", apiKeyId: "k1", scope: ["pki"], at: 1_700_000_000_000 };
      await publishEvent(bus, Events.sessionOpened, value, "e1");
      await new Promise((r) => setTimeout(r, 50));
      for (const sub of subs) await sub.stop();
      assert.equal(live.length, 1);
      const msg = live[0] as BusMessage;
      const got = decodeEvent(Events.sessionOpened, msg);
      assert.equal(got, msg.value, "not decoded");
      assert.equal(other[0]?.value, got, "one value for every consumer");
      assert.notEqual(got, value, "a copy: the publisher keeps its own");
      assert.notEqual(got?.scope, value.scope);
      assert.deepEqual(got, Events.sessionOpened.type.decode(msg.data), "shaped as decoding would");
      assert.equal(decodeEvent(Events.sessionRevoked, msg), undefined, "another event's subject");
      const replayed: BusMessage[] = [];
      const again = await bus.subscribe({
        subjects: ["auth.>"],
        deliver: "all",
        handler: async (m) => {
          replayed.push(m);
        },
      });
      await new Promise((r) => setTimeout(r, 50));
      await again.stop();
      assert.equal(replayed[0]?.value, undefined);
      assert.deepEqual(decodeEvent(Events.sessionOpened, replayed[0] as BusMessage), {
        ...value,
        name: undefined,
        familyId: undefined,
      });
    } finally {
      await bus.close();
    }
  });
});
