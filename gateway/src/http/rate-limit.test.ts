import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RateLimiter } from "./rate-limit";

describe("rate limiter", () => {
  it("allows a minute's allowance at once, then refuses with the wait in seconds", () => {
    const now = 1_000_000;
    const r = new RateLimiter(60, () => now);
    for (let i = 0; i < 60; i++) assert.deepEqual(r.take("a"), { allowed: true });
    assert.deepEqual(r.take("a"), { allowed: false, retryAfterSeconds: 1 });
    // Another client has its own bucket.
    assert.deepEqual(r.take("b"), { allowed: true });
  });

  it("refills continuously", () => {
    let now = 1_000_000;
    const r = new RateLimiter(60, () => now);
    for (let i = 0; i < 60; i++) r.take("a");
    assert.equal(r.take("a").allowed, false);
    now += 1000;
    assert.equal(r.take("a").allowed, true);
    assert.equal(r.take("a").allowed, false);
  });

  it("charges a batch its size, capped at a full bucket", () => {
    const now = 1_000_000;
    const r = new RateLimiter(10, () => now);
    assert.equal(r.take("a", 8).allowed, true);
    const d = r.take("a", 5);
    assert.equal(d.allowed, false);
    assert.ok(!d.allowed && d.retryAfterSeconds >= 18);
    assert.equal(new RateLimiter(10, () => now).take("c", 100).allowed, true);
  });

  it("is off at 0 per minute", () => {
    const r = new RateLimiter(0);
    for (let i = 0; i < 1000; i++) assert.equal(r.take("a").allowed, true);
  });

  it("drops buckets that have refilled, bounding memory", () => {
    let now = 1_000_000;
    const r = new RateLimiter(60, () => now);
    r.take("a");
    r.take("b");
    assert.equal(r.size, 2);
    now += 120_000;
    r.take("c");
    assert.equal(r.size, 1);
  });

  it("keeps at most maxClients buckets however many clients come within a minute", () => {
    const now = 1_000_000;
    const r = new RateLimiter(60, () => now, 100);
    for (let i = 0; i < 1000; i++) r.take(`client-${i}`);
    assert.equal(r.size, 100);
    // The most recent clients keep their state.
    for (let i = 0; i < 59; i++) r.take("client-999");
    assert.equal(r.take("client-999").allowed, false);
  });
});
