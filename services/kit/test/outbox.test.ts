import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  type BusMessage,
  busContract,
  connectMongo,
  createNatsBus,
  type EventBus,
  MemoryEventBus,
  type MongoHandle,
  OUTBOX_COLLECTION,
  OutboxEventBus,
} from "@pkiserver/kit";
import { getInfra } from "@pkiserver/test-harness";
import { Binary, MongoClient } from "mongodb";
import { dec, deleteStreams, enc, sleep, TRACE_ID, withTracePropagation } from "./support";

/** A fresh database and NATS prefix; `dispose` drops both. */
async function fresh(label: string): Promise<{ mongo: MongoHandle; prefix: string; dispose(): Promise<void> }> {
  const infra = await getInfra();
  const name = infra.freshName(label);
  const mongo = await connectMongo(infra.mongoUrl, name);
  return {
    mongo,
    prefix: name,
    dispose: async () => {
      await mongo.db.dropDatabase().catch(() => {});
      await mongo.close();
      await deleteStreams(infra.natsUrl, name);
    },
  };
}

busContract(
  "OutboxEventBus on MongoDB, relaying to NATS",
  async () => {
    const infra = await getInfra();
    const f = await fresh("outbox_nats");
    const nats = await createNatsBus({ servers: infra.natsUrl, prefix: f.prefix, redeliveryDelayMs: 100 });
    const bus = await OutboxEventBus.start(nats, f.mongo.db, { sweepIntervalMs: 200 });
    return {
      bus,
      cleanup: async () => {
        await bus.close();
        await f.dispose();
      },
    };
  },
  { settleMs: 500 },
);

busContract("OutboxEventBus on MongoDB, relaying to the in-process bus", async () => {
  const f = await fresh("outbox_memory");
  const bus = await OutboxEventBus.start(new MemoryEventBus(24 * 3600_000, 50), f.mongo.db, { sweepIntervalMs: 200 });
  return {
    bus,
    cleanup: async () => {
      await bus.close();
      await f.dispose();
    },
  };
});

describe("OutboxEventBus beyond the contract", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  async function record(bus: EventBus): Promise<BusMessage[]> {
    const got: BusMessage[] = [];
    const sub = await bus.subscribe({
      subjects: ["apikey.v1.>"],
      deliver: "all",
      handler: async (m) => {
        got.push(m);
      },
    });
    cleanups.push(() => sub.stop());
    return got;
  }

  async function until(what: string, probe: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await probe())) {
      if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`);
      await sleep(50);
    }
  }

  it("publishes, and then removes, an event a process that died left in the outbox, once its claim lapses", async () => {
    const infra = await getInfra();
    const f = await fresh("outbox_dead");
    cleanups.push(f.dispose);
    // What a process killed after storing the event and before publishing it leaves behind.
    await f.mongo.db.collection(OUTBOX_COLLECTION).insertOne({
      _id: "evt-left-behind" as never,
      subject: "apikey.v1.apikey.updated",
      data: new Binary(enc("disabled")),
      headers: [{ name: "x-request-id", value: "req-7" }],
      createdAt: Date.now(),
      owner: "a-process-that-died",
      leaseUntil: Date.now() + 500,
    });
    const nats = await createNatsBus({ servers: infra.natsUrl, prefix: f.prefix });
    const relay = await OutboxEventBus.start(nats, f.mongo.db, { sweepIntervalMs: 100 });
    cleanups.push(() => relay.close());
    const got = await record(relay);
    await until("the event's delivery", () => got.length === 1);
    const [msg] = got;
    assert.equal(msg?.id, "evt-left-behind");
    assert.equal(msg?.subject, "apikey.v1.apikey.updated");
    assert.equal(dec(msg?.data ?? new Uint8Array()), "disabled");
    assert.equal(msg?.headers["x-request-id"], "req-7");
    await until("the event's removal from the outbox", async () => (await relay.pendingCount()) === 0);
  });

  /** Relay A, whose transport holds every event as while NATS does not acknowledge, and relay B, whose does not. */
  async function twoRelays(label: string, leaseMs: number) {
    const infra = await getInfra();
    const f = await fresh(label);
    cleanups.push(f.dispose);
    const stuck = await createNatsBus({ servers: infra.natsUrl, prefix: f.prefix, testPublishDelayMs: 600_000 });
    const a = await OutboxEventBus.start(stuck, f.mongo.db, { leaseMs, sweepIntervalMs: 100, ackWaitMs: 100 });
    cleanups.push(() => a.close());
    const nats = await createNatsBus({ servers: infra.natsUrl, prefix: f.prefix });
    const b = await OutboxEventBus.start(nats, f.mongo.db, { leaseMs, sweepIntervalMs: 100 });
    cleanups.push(() => b.close());
    return { a, b, got: await record(b) };
  }

  it("a live relay renews its claim on an event it cannot publish yet, so no other relay takes it", async () => {
    const { a, got } = await twoRelays("outbox_renew", 400);
    await a.publish("apikey.v1.apikey.deleted", enc("held by A"), { id: "evt-held" });
    assert.equal(await a.pendingCount(), 1, "stored before publish() returned");
    await sleep(2500);
    assert.equal(got.length, 0, "B took an event A still holds");
  });

  it("a relay that closes with unsent events releases them, and another relay publishes each once", async () => {
    // A claim longer than the test: only the release lets B take the event.
    const { a, b, got } = await twoRelays("outbox_release", 600_000);
    await a.publish("apikey.v1.apikey.deleted", enc("held by A"), { id: "evt-held" });
    await a.close();
    await until("B publishing the event A released", () => got.length === 1);
    await sleep(1000);
    assert.deepEqual(
      got.map((m) => [m.id, dec(m.data)]),
      [["evt-held", "held by A"]],
    );
    await until("the event's removal from the outbox", async () => (await b.pendingCount()) === 0);
  });

  it("carries the publisher's trace context to the handler, also when another relay sends the event", async () => {
    await withTracePropagation(async (inTrace) => {
      // Published through A, which cannot send it; B sends it once A releases it.
      const { a, got } = await twoRelays("outbox_trace", 600_000);
      await inTrace(() => a.publish("apikey.v1.apikey.updated", enc("traced")));
      await a.close();
      await until("the event's delivery", () => got.length === 1);
      assert.equal(got[0]?.headers.traceparent?.split("-")[1], TRACE_ID);
    });
  });

  it("events published at once share one insert and one delete; an id already waiting is stored once, not refused", async () => {
    const infra = await getInfra();
    const f = await fresh("outbox_grouped");
    cleanups.push(f.dispose);
    // A client of its own that reports its commands to the outbox collection.
    const client = new MongoClient(infra.mongoUrl, { monitorCommands: true });
    await client.connect();
    cleanups.push(() => client.close());
    const writes: string[] = [];
    client.on("commandStarted", (e) => {
      if (e.command[e.commandName] === OUTBOX_COLLECTION) writes.push(e.commandName);
    });
    const bus = await OutboxEventBus.start(new MemoryEventBus(24 * 3600_000, 50), client.db(f.mongo.db.databaseName));
    cleanups.push(() => bus.close());
    const got = await record(bus);
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) =>
        bus.publish("apikey.v1.apikey.updated", enc(`e${i}`), { id: `evt-${i}` }),
      ),
      bus.publish("apikey.v1.apikey.updated", enc("e3 again"), { id: "evt-3" }),
    ]);
    await until("every event's delivery", () => got.length === 20);
    await until("the events' removal from the outbox", async () => (await bus.pendingCount()) === 0);
    assert.deepEqual(got.map((m) => m.id).sort(), Array.from({ length: 20 }, (_, i) => `evt-${i}`).sort());
    // The first insert went alone; what came while it ran went in the next one (and so the deletes).
    const inserts = writes.filter((w) => w === "insert").length;
    const deletes = writes.filter((w) => w === "delete").length;
    assert.ok(inserts >= 1 && inserts <= 3, `${inserts} inserts for 21 events`);
    assert.ok(deletes >= 1 && deletes <= 5, `${deletes} deletes for 20 events`);
  });

  it("refuses an event the transport would never take before storing it", async () => {
    const infra = await getInfra();
    const f = await fresh("outbox_refused");
    cleanups.push(f.dispose);
    const nats = await createNatsBus({ servers: infra.natsUrl, prefix: f.prefix });
    const bus = await OutboxEventBus.start(nats, f.mongo.db);
    cleanups.push(() => bus.close());
    await assert.rejects(bus.publish("billing.v1.invoice.created", enc("x")), /no stream holds/);
    await assert.rejects(bus.publish("auth.v1.session.revoked", enc("x"), { headers: { "x-a": "a\nb" } }));
    assert.equal(await bus.pendingCount(), 0);
  });
});
