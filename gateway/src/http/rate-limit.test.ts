import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { counterStoreContract } from "./counter-store.contract";
import { DEFAULT_RATE_LIMITS, MemoryCounterStore, RateLimiter, tierOf } from "./rate-limit";

describe("memory counter store (contract)", () => {
  counterStoreContract(() => new MemoryCounterStore());
});

describe("sliding window", () => {
  it("never accepts more than the limit within any 60 s window", () => {
    let now = 1_000_000_500;
    const store = new MemoryCounterStore(() => now);
    const accepted: number[] = [];
    // One attempt every 250 ms for five minutes against a limit of 30.
    for (let i = 0; i < 1200; i++) {
      if (store.hitSync("k", 30).allowed) accepted.push(now);
      now += 250;
    }
    for (let i = 0; i < accepted.length; i++) {
      const from = accepted[i] as number;
      const inWindow = accepted.filter((t) => t >= from && t < from + 60_000).length;
      assert.ok(inWindow <= 30, `${inWindow} accepted in the window from ${from}`);
    }
    // And the limit is usable: about 30 per minute over five minutes.
    assert.ok(accepted.length >= 140, `only ${accepted.length} accepted`);
  });

  it("tells how long until a request passes, and it does pass then", () => {
    let now = 5_000_000_000;
    const store = new MemoryCounterStore(() => now);
    for (let i = 0; i < 3; i++) store.hitSync("k", 3);
    now += 20_000;
    const refused = store.hitSync("k", 3);
    assert.equal(refused.allowed, false);
    assert.equal(refused.retryAfterSeconds, 41);
    now += (refused.retryAfterSeconds - 1) * 1000;
    assert.equal(store.hitSync("k", 3).allowed, false);
    now += 1000;
    const passed = store.hitSync("k", 3);
    assert.equal(passed.allowed, true);
    // All three were counted in the same second, so all three left together.
    assert.equal(passed.remaining, 2);
  });

  it("frees the oldest requests first, and reports the reset of the oldest", () => {
    let now = 7_000_000_000;
    const store = new MemoryCounterStore(() => now);
    store.hitSync("k", 3);
    now += 30_000;
    const second = store.hitSync("k", 3);
    assert.equal(second.resetSeconds, 31);
    store.hitSync("k", 3);
    now += 31_000;
    // The first left: one passes; the next two are still counted.
    assert.equal(store.hitSync("k", 3).allowed, true);
    const refused = store.hitSync("k", 3);
    assert.equal(refused.allowed, false);
    assert.equal(refused.retryAfterSeconds, 30);
  });

  it("drops a key whose window emptied, and keeps at most maxKeys", () => {
    let now = 9_000_000_000;
    const store = new MemoryCounterStore(() => now, 10);
    for (let i = 0; i < 50; i++) store.hitSync(`k${i}`, 5);
    assert.equal(store.size, 10);
    now += 62_000;
    store.hitSync("k49", 5, true);
    assert.ok(store.size <= 9);
  });
});

describe("tiers", () => {
  it("names a method's tier by its prefix, the admin alias included", () => {
    assert.equal(tierOf("pki/verifyKey"), "pki");
    assert.equal(tierOf("pkiAdmin/setHost"), "pkiadmin");
    assert.equal(tierOf("pkiadmin/setHost"), "pkiadmin");
    assert.equal(tierOf("user/listApiKeys"), "user");
    assert.equal(tierOf("audit/list"), "audit");
    assert.equal(tierOf("auth/token"), "auth");
    assert.equal(tierOf("rpc.discover"), undefined);
    assert.equal(tierOf("other/x"), undefined);
  });

  it("applies the tier default unless the key has its own limit, and 0 turns a default off", async () => {
    const now = 1_000_000_000;
    const limiter = new RateLimiter(new MemoryCounterStore(() => now), { ...DEFAULT_RATE_LIMITS, user: 2, audit: 0 });
    const key = { kind: "key", id: "k1" } as const;
    assert.equal((await limiter.take("user", key))?.limit, 2);
    assert.equal(await limiter.take("audit", key), undefined);
    assert.equal((await limiter.take("audit", key, { audit: 7 }))?.limit, 7);
    assert.equal((await limiter.take("user", { kind: "key", id: "k2" }, { user: 5 }))?.limit, 5);
    // Tiers count apart.
    await limiter.take("user", key);
    assert.equal((await limiter.take("user", key))?.allowed, false);
    assert.equal((await limiter.take("pki", key))?.allowed, true);
  });
});
