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
