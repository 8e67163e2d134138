import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import type { CounterStore } from "./rate-limit";

/**
 * What every counter store must do, whatever its clock: run against the
 * memory store and against a real redis-server (gateway/test).
 */
export function counterStoreContract(make: () => CounterStore | Promise<CounterStore>): void {
  const fresh = (label: string) => `${label}-${randomBytes(6).toString("hex")}`;

  it("accepts the limit within the window, then refuses with the wait until a request would pass", async () => {
    const store = await make();
    const key = fresh("a");
    for (let i = 0; i < 5; i++) {
      const d = await store.hit(key, 5);
      assert.equal(d.allowed, true, `request ${i + 1}`);
      assert.equal(d.limit, 5);
      assert.equal(d.remaining, 4 - i);
      assert.ok(d.resetSeconds >= 1 && d.resetSeconds <= 61, `reset ${d.resetSeconds}`);
    }
    const refused = await store.hit(key, 5);
    assert.equal(refused.allowed, false);
    assert.equal(refused.remaining, 0);
    assert.ok(refused.retryAfterSeconds >= 59 && refused.retryAfterSeconds <= 61, `retry ${refused.retryAfterSeconds}`);
    // A refused request is not counted: the wait does not grow.
    const again = await store.hit(key, 5);
    assert.equal(again.allowed, false);
    assert.ok(again.retryAfterSeconds <= refused.retryAfterSeconds);
  });

  it("keeps keys apart", async () => {
    const store = await make();
    const a = fresh("a");
    const b = fresh("b");
    assert.equal((await store.hit(a, 1)).allowed, true);
    assert.equal((await store.hit(a, 1)).allowed, false);
    assert.equal((await store.hit(b, 1)).allowed, true);
  });

  it("answers a peek without counting it", async () => {
    const store = await make();
    const key = fresh("p");
    for (let i = 0; i < 3; i++) assert.equal((await store.hit(key, 1, true)).allowed, true);
    assert.equal((await store.hit(key, 1)).allowed, true);
    assert.equal((await store.hit(key, 1, true)).allowed, false);
  });

  it("holds the limit under concurrent requests", async () => {
    const store = await make();
    const key = fresh("c");
    const results = await Promise.all(Array.from({ length: 200 }, () => store.hit(key, 50)));
    assert.equal(results.filter((d) => d.allowed).length, 50);
  });
}
