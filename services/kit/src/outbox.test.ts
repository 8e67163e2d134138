import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, MongoServerError } from "mongodb";
import { type BusMessage, MemoryEventBus } from "./bus";
import { processMetricsRegistry } from "./metrics";
import { OutboxEventBus, type RelayTarget } from "./outbox";

const enc = (s: string) => new TextEncoder().encode(s);

/** A database whose outbox collection answers each insert of events with `insert`, and holds nothing. */
function fakeDb(insert: () => Promise<unknown>): Db {
  const col = {
    createIndex: async () => "outbox_lease",
    insertMany: insert,
    find: () => ({ sort: () => ({ limit: () => ({ toArray: async () => [] }) }) }),
    updateMany: async () => ({}),
    deleteMany: async () => ({ deletedCount: 1 }),
  };
  return { collection: () => col } as unknown as Db;
}

describe("OutboxEventBus", () => {
  it("hands an event to the bus directly when MongoDB refuses to store it", async () => {
    const inner = new MemoryEventBus();
    const got: BusMessage[] = [];
    await inner.subscribe({ subjects: ["apikey.v1.>"], deliver: "new", handler: async (m) => void got.push(m) });
    const db = fakeDb(async () => {
      throw new MongoServerError({ message: "not primary", code: 10107 });
    });
    const bus = await OutboxEventBus.start(inner, db);
    await bus.publish("apikey.v1.apikey.deleted", enc("x"), { id: "evt-1" });
    assert.deepEqual(
      got.map((m) => m.id),
      ["evt-1"],
    );
    await bus.close();
  });

  it("does not send an event a second time while it is still waiting in the outbox", async () => {
    const inner = new MemoryEventBus();
    let published = 0;
    const counting: RelayTarget = Object.assign(Object.create(inner) as MemoryEventBus, {
      publish: async () => {
        published++;
      },
    });
    const db = fakeDb(async () => {
      throw new MongoServerError({ message: "E11000 duplicate key", code: 11000 });
    });
    const bus = await OutboxEventBus.start(counting, db);
    await bus.publish("apikey.v1.apikey.deleted", enc("x"), { id: "evt-1" });
    assert.equal(published, 0);
    await bus.close();
  });

  it("returns once the event is stored while the transport is away, without waiting for it", async () => {
    const inner = new MemoryEventBus();
    const away: RelayTarget = Object.assign(Object.create(inner) as MemoryEventBus, {
      isReady: () => false,
      publishAcked: () => new Promise<void>(() => {}),
    });
    let stored = 0;
    const bus = await OutboxEventBus.start(
      away,
      fakeDb(async () => {
        stored++;
        return { acknowledged: true };
      }),
      { ackWaitMs: 60_000 },
    );
    const started = Date.now();
    await bus.publish("apikey.v1.apikey.deleted", enc("x"));
    assert.equal(stored, 1);
    assert.ok(Date.now() - started < 1000);
    await bus.close();
  });

  it("counts the events it holds unacknowledged in pmx_outbox_pending_events, and none once closed", async () => {
    const pending = async () =>
      (await processMetricsRegistry().getSingleMetricAsString("pmx_outbox_pending_events")).match(
        /^pmx_outbox_pending_events (\d+)$/m,
      )?.[1];
    const inner = new MemoryEventBus();
    const away: RelayTarget = Object.assign(Object.create(inner) as MemoryEventBus, {
      isReady: () => false,
      publishAcked: () => new Promise<void>(() => {}),
    });
    const bus = await OutboxEventBus.start(
      away,
      fakeDb(async () => ({ acknowledged: true })),
      { ackWaitMs: 60_000 },
    );
    assert.equal(await pending(), "0");
    await bus.publish("apikey.v1.apikey.deleted", enc("x"));
    await bus.publish("apikey.v1.apikey.deleted", enc("y"));
    assert.equal(await pending(), "2");
    await bus.close();
    assert.equal(await pending(), "0");
  });
});
