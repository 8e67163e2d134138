import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KeyRecord, KeyRef } from "../domain/entities";
import type { Clock, KeyHistoryStore } from "../domain/ports";
import { CachedKeyHistoryStore, FINAL_AFTER_MS } from "./cached-key-history";
import { MemoryKeyHistoryStore } from "./memory-key-history-store";

/** A store that counts the reads that reach it. */
class Counting implements KeyHistoryStore {
  reads = 0;
  constructor(private readonly inner: KeyHistoryStore) {}
  append(...args: Parameters<KeyHistoryStore["append"]>) {
    return this.inner.append(...args);
  }
  latest(ref: KeyRef) {
    this.reads++;
    return this.inner.latest(ref);
  }
  at(ref: KeyRef, date: number) {
    this.reads++;
    return this.inner.at(ref, date);
  }
  history(ref: KeyRef) {
    return this.inner.history(ref);
  }
}

const ref: KeyRef = { userId: "u", instanceId: "i", contextId: "c" };

function setup() {
  let now = 1_700_000_000_000;
  const clock: Clock = { now: () => now };
  const raw = new MemoryKeyHistoryStore();
  const counting = new Counting(raw);
  const cached = new CachedKeyHistoryStore(counting, clock);
  const append = (userPubKey: string, after = 1000): Promise<KeyRecord> => {
    now += after;
    return cached.append(ref, () => ({ userPubKey }), clock);
  };
  return { raw, counting, cached, append, advance: (ms: number) => (now += ms), now: () => now };
}

describe("cached key history", () => {
  it("answers every date exactly as the store does, before and after appends", async () => {
    const t = setup();
    const records: KeyRecord[] = [];
    for (let i = 0; i < 6; i++) records.push(await t.append(`k${i}`));
    const dates = records.flatMap((r) => [r.createDate - 1, r.createDate, r.createDate + 500]);
    for (let round = 0; round < 3; round++) {
      for (const d of [...dates, t.now(), t.now() + 10_000]) {
        assert.deepEqual(await t.cached.at(ref, d), await t.raw.at(ref, d), `date ${d}, round ${round}`);
      }
      records.push(await t.append(`late${round}`));
      dates.push(t.now());
    }
  });

  it("reads a date before the newest record from the store once, then from memory", async () => {
    const t = setup();
    const first = await t.append("a");
    await t.append("b");
    assert.equal((await t.cached.at(ref, first.createDate + 10))?.userPubKey, "a");
    const reads = t.counting.reads;
    assert.equal((await t.cached.at(ref, first.createDate + 10))?.userPubKey, "a");
    // Every date between the record's own and the one asked is known too.
    assert.equal((await t.cached.at(ref, first.createDate))?.userPubKey, "a");
    assert.equal((await t.cached.at(ref, first.createDate - 1))?.userPubKey, undefined);
    assert.equal(
      t.counting.reads,
      reads + 2,
      "the first record's span is served from memory, the date before it is not",
    );
    assert.equal(await t.cached.at(ref, first.createDate - 5), undefined);
    assert.equal(t.counting.reads, reads + 2, "no record before the first: learnt once");
  });

  it("never keeps an answer at or after the newest record while it is recent: a new record changes it", async () => {
    const t = setup();
    const a = await t.append("a");
    const date = a.createDate + 5_000;
    assert.equal((await t.cached.at(ref, date))?.userPubKey, "a");
    // Written by another replica: this one's cache hears nothing of it.
    t.advance(1000);
    const b = await t.raw.append(ref, () => ({ userPubKey: "b" }), { now: t.now });
    assert.ok(b.createDate <= date);
    assert.equal((await t.cached.at(ref, date))?.userPubKey, "b");
  });

  it("keeps the answer at the newest record's own date: the next record is created after it", async () => {
    const t = setup();
    const a = await t.append("a");
    assert.equal((await t.cached.at(ref, a.createDate))?.userPubKey, "a");
    const reads = t.counting.reads;
    assert.equal((await t.cached.at(ref, a.createDate))?.userPubKey, "a");
    assert.equal(t.counting.reads, reads, "served from memory");
    // Even a record written at once, on a clock that has not moved, lands after that date.
    const b = await t.raw.append(ref, () => ({ userPubKey: "b" }), { now: () => a.createDate });
    assert.ok(b.createDate > a.createDate);
    assert.equal((await t.cached.at(ref, a.createDate))?.userPubKey, "a");
    assert.deepEqual(await t.cached.at(ref, a.createDate), await t.raw.at(ref, a.createDate));
    // A date after the newest record's own is still read from the store each time.
    const before = t.counting.reads;
    assert.equal((await t.cached.at(ref, b.createDate + 1))?.userPubKey, "b");
    assert.equal((await t.cached.at(ref, b.createDate + 1))?.userPubKey, "b");
    assert.equal(t.counting.reads, before + 2);
  });

  it("keeps the newest record's answer for dates older than the finality window", async () => {
    const t = setup();
    const a = await t.append("a");
    t.advance(FINAL_AFTER_MS + 1);
    assert.equal((await t.cached.at(ref, a.createDate + 1))?.userPubKey, "a");
    const reads = t.counting.reads;
    assert.equal((await t.cached.at(ref, a.createDate + 1))?.userPubKey, "a");
    assert.equal(t.counting.reads, reads);
  });
});
