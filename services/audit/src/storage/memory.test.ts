import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEvent } from "../domain/entities";
import { auditStoreContract } from "./contract";
import { MemoryAuditStore } from "./memory-audit-store";

auditStoreContract("memory", async () => ({ store: new MemoryAuditStore() }));

describe("memory audit store bound", () => {
  const event = (n: number): AuditEvent => ({
    id: `ev-${n}`,
    time: 1_700_000_000_000 + n,
    type: "session.opened",
    outcome: "ok",
    actor: { apiKeyId: "k" },
    target: `s-${n}`,
    details: {},
  });

  it("keeps the newest events past its bound, and forgets the ids of those dropped", async () => {
    const store = new MemoryAuditStore(100);
    for (let n = 0; n < 1000; n++) assert.equal(await store.record(event(n)), true);
    const kept = await store.page({}, "oldest", undefined, 10_000);
    assert.ok(kept.length >= 100 && kept.length <= 110, `kept ${kept.length}`);
    assert.equal(kept.at(-1)?.id, "ev-999");
    // Newest first and contiguous: only the oldest were dropped.
    const first = Number((kept[0] as AuditEvent).id.slice(3));
    assert.deepEqual(
      kept.map((e) => e.id),
      Array.from({ length: kept.length }, (_, i) => `ev-${first + i}`),
    );
    // A dropped event recorded again (a redelivery) is stored anew rather than refused as a duplicate.
    assert.equal(await store.record(event(0)), true);
    assert.equal(await store.record(event(999)), false);
  });

  it("keeps events in (time, id) order whatever order they arrive in, ties in time included", async () => {
    const store = new MemoryAuditStore();
    // Times with many ties, ids that sort differently from arrival, arrival shuffled by a fixed walk.
    const all = Array.from({ length: 600 }, (_, n) => ({
      ...event(n),
      id: `ev-${(n * 7919) % 600}`,
      time: 1000 + (n % 37),
    }));
    const arrival = Array.from({ length: all.length }, (_, k) => all[(k * 211) % all.length] as AuditEvent);
    for (const e of arrival) assert.equal(await store.record(e), true);
    // A later burst stamped ahead of the rest, then stragglers with earlier times.
    for (let n = 0; n < 50; n++) await store.record({ ...event(n), id: `ahead-${n}`, time: 5000 + n });
    for (let n = 0; n < 50; n++) await store.record({ ...event(n), id: `late-${n}`, time: 1010 });
    const kept = await store.page({}, "oldest", undefined, 10_000);
    const sorted = [...kept].sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    assert.equal(kept.length, 700);
    assert.deepEqual(
      kept.map((e) => `${e.time}/${e.id}`),
      sorted.map((e) => `${e.time}/${e.id}`),
    );
  });
});

describe("memory audit store as bytes", () => {
  const at = (n: number, time: number): AuditEvent => ({
    id: `ev-${n}`,
    time,
    type: "session.opened",
    outcome: "ok",
    actor: { apiKeyId: `k-${n % 3}` },
    target: `s-${n}`,
    details: { n },
  });

  it("gives copies: a returned event changed by its caller is not changed in the store", async () => {
    const store = new MemoryAuditStore();
    await store.record(at(1, 1000));
    const [first] = await store.page({}, "oldest", undefined, 10);
    (first as { details: Record<string, unknown> }).details.n = 99;
    assert.deepEqual(await store.page({}, "oldest", undefined, 10), [at(1, 1000)]);
  });

  it("does not keep an event larger than all its room", async () => {
    const store = new MemoryAuditStore(100);
    assert.equal(await store.record({ ...at(1, 1000), details: { blob: "x".repeat(2 * 1024 * 1024) } }), false);
    assert.equal(await store.record(at(2, 1000)), true);
    assert.deepEqual(
      (await store.page({}, "oldest", undefined, 10)).map((e) => e.id),
      ["ev-2"],
    );
  });

  it("keeps refusing a purged id recorded again once the purged event's bytes are dropped", async () => {
    const store = new MemoryAuditStore(100);
    // Recorded out of time order, so the purged one is not the oldest recorded.
    assert.equal(await store.record(at(1, 2000)), true);
    assert.equal(await store.record(at(2, 1000)), true);
    assert.equal(await store.purgeBefore(1500), 1);
    assert.equal(await store.record(at(2, 3000)), true);
    // Enough events to drop both first ones' bytes; ev-2 again is then the kept one.
    for (let n = 10; n < 108; n++) assert.equal(await store.record(at(n, 4000 + n)), true);
    assert.equal(await store.record(at(2, 3000)), false);
    const kept = await store.page({}, "oldest", undefined, 1000);
    assert.equal(kept.length, 99);
    assert.deepEqual(kept[0], at(2, 3000));
  });

  for (const [max, total, every] of [
    [100, 3000, 97],
    [3000, 8000, 997],
  ] as const) {
    it(`pages as a sorted list of the newest ${max} recorded would, whatever order events arrive in`, async () => {
      let x = 12345;
      const rnd = () => {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        return x / 2 ** 32;
      };
      const store = new MemoryAuditStore(max);
      const recorded: AuditEvent[] = [];
      const order = (a: AuditEvent, b: AuditEvent) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      for (let n = 0; n < total; n++) {
        // Times that mostly rise, with ties and stragglers.
        const e = at(n, Math.floor(n / 3) + (rnd() < 0.2 ? -Math.floor(rnd() * 80) : 0));
        assert.equal(await store.record(e), true);
        recorded.push(e);
        if (n % every !== 0 && n !== total - 1) continue;
        const model = recorded.slice(-max).sort(order);
        assert.deepEqual(await store.page({}, "oldest", undefined, 10_000), model);
        assert.deepEqual(await store.page({}, "newest", undefined, 10_000), [...model].reverse());
        if (model.length < max) continue;
        // Paging on from any position, either way, with a filter on time and key.
        const mid = model[Math.floor(rnd() * model.length)] as AuditEvent;
        const filter = { from: (model[5] as AuditEvent).time, to: (model[90] as AuditEvent).time, apiKeyId: "k-1" };
        const matches = (e: AuditEvent) =>
          e.time >= filter.from && e.time <= filter.to && (e.actor.apiKeyId === "k-1" || e.target === "k-1");
        assert.deepEqual(
          await store.page(filter, "oldest", mid, 10_000),
          model.filter((e) => order(e, mid) > 0 && matches(e)),
        );
        assert.deepEqual(
          await store.page(filter, "newest", mid, 7),
          model
            .filter((e) => order(e, mid) < 0 && matches(e))
            .reverse()
            .slice(0, 7),
        );
      }
    });
  }
});
