import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { randomPubKey } from "@pkiserver/contract";
import { type BusMessage, createLogger, decodeEvent, Events, MemoryEventBus } from "@pkiserver/kit";
import type { KeyRecord } from "../../domain/entities";
import { BusPkiEvents } from "./publisher";

const silent = () => createLogger({ name: "test", level: "silent" });

async function collect(bus: MemoryEventBus): Promise<BusMessage[]> {
  const got: BusMessage[] = [];
  await bus.subscribe({ subjects: ["pki.v1.>"], deliver: "all", handler: async (m) => void got.push(m) });
  await new Promise((r) => setImmediate(r));
  return got;
}

describe("BusPkiEvents", () => {
  it("publishes each change on its subject with the record as payload", async () => {
    const bus = new MemoryEventBus();
    const events = new BusPkiEvents(bus, silent());
    const id = randomPubKey();
    const host = { instanceId: id, hostPubKey: id, addresses: ["a.example"] };
    const set: KeyRecord = {
      userId: "u1x",
      instanceId: id,
      contextId: "c1x",
      seq: 1,
      createDate: 5,
      userPubKey: randomPubKey(),
      customData: '{"a":1}',
    };
    const deleted: KeyRecord = { userId: "u1x", instanceId: id, contextId: "c1x", seq: 2, createDate: 6 };
    await events.hostRegistered(host, 1);
    await events.hostChanged(host, 2);
    await events.hostDeleted(host, 3);
    await events.userKeySet(set);
    await events.userKeyDeleted(deleted);
    const got = await collect(bus);
    assert.deepEqual(
      got.map((m) => m.subject),
      [Events.hostRegistered, Events.hostChanged, Events.hostDeleted, Events.userKeySet, Events.userKeyDeleted].map(
        (e) => e.subject,
      ),
    );
    assert.deepEqual(decodeEvent(Events.hostRegistered, got[0] as BusMessage), { host, at: 1 });
    assert.deepEqual(decodeEvent(Events.userKeySet, got[3] as BusMessage), {
      record: {
        userId: "u1x",
        instanceId: id,
        contextId: "c1x",
        createDate: 5,
        userPubKey: set.userPubKey,
        customDataJson: '{"a":1}',
      },
    });
    const del = decodeEvent(Events.userKeyDeleted, got[4] as BusMessage);
    assert.equal(del?.record?.userPubKey, undefined);
    assert.equal(del?.record?.createDate, 6);
  });

  it("gives a record's event the same id when published again, so the bus drops the repeat", async () => {
    const bus = new MemoryEventBus();
    const events = new BusPkiEvents(bus, silent());
    const record: KeyRecord = {
      userId: "u1x",
      instanceId: randomPubKey(),
      contextId: "c1x",
      seq: 1,
      createDate: 5,
      userPubKey: randomPubKey(),
    };
    await events.userKeySet(record);
    await events.userKeySet(record);
    await events.userKeySet({ ...record, seq: 2, createDate: 6 });
    assert.equal((await collect(bus)).length, 2);
  });

  it("logs a publishing failure instead of failing the write it follows", async () => {
    const bus = new MemoryEventBus();
    await bus.close();
    const lines: string[] = [];
    const logger = createLogger({
      name: "test",
      destination: new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    });
    const id = randomPubKey();
    await new BusPkiEvents(bus, logger).hostDeleted({ instanceId: id, hostPubKey: id, addresses: [] }, 1);
    assert.ok(lines.some((l) => l.includes("event not published") && l.includes("hostDeleted")));
  });
});
