import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KeyLimitsCache, keyLimitsOf } from "./key-limits";

describe("key limits cache", () => {
  it("fetches a key's limits once, then follows the changes it is told of", async () => {
    let fetches = 0;
    const cache = new KeyLimitsCache(async () => {
      fetches++;
      return { pki: 5 };
    });
    const [a, b] = await Promise.all([cache.get("k"), cache.get("k")]);
    assert.deepEqual(a, { pki: 5 });
    assert.deepEqual(b, { pki: 5 });
    assert.equal(fetches, 1, "concurrent misses share one fetch");
    cache.set("k", { user: 2 });
    assert.deepEqual(await cache.get("k"), { user: 2 });
    cache.delete("k");
    assert.deepEqual(await cache.get("k"), { pki: 5 });
    assert.equal(fetches, 2);
  });

  it("does not remember a failed or slow fetch, and does not wait for it past a second", async () => {
    let fail = true;
    const cache = new KeyLimitsCache(async () => {
      if (fail) throw new Error("down");
      return { audit: 1 };
    });
    assert.equal(await cache.get("k"), undefined);
    fail = false;
    assert.deepEqual(await cache.get("k"), { audit: 1 });
    const slow = new KeyLimitsCache(() => new Promise(() => {}));
    const started = Date.now();
    assert.equal(await slow.get("k"), undefined);
    assert.ok(Date.now() - started < 2000);
  });

  it("keeps only positive limits of the known tiers", () => {
    assert.deepEqual(keyLimitsOf({ pki: 3, user: 0, audit: undefined }), { pki: 3 });
    assert.deepEqual(keyLimitsOf(undefined), {});
  });
});
