import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomBase64url, randomBytesPooled, randomHex } from "./random";

describe("pooled random bytes", () => {
  it("gives the size asked for, across many refills of the pool, and never the same value twice", () => {
    const seen = new Set<string>();
    // 20,000 draws of 1..48 bytes cross the 4 KiB pool's end about 250 times, at every offset.
    for (let i = 0; i < 20_000; i++) {
      const size = (i % 48) + 1;
      const b = randomBytesPooled(size);
      assert.equal(b.length, size);
      if (size >= 16) {
        const hex = b.toString("hex");
        assert.ok(!seen.has(hex), "a 128-bit or longer value repeated");
        seen.add(hex);
      }
    }
  });

  it("hands out copies: a value does not change when more is drawn", () => {
    const a = randomBytesPooled(32);
    const kept = Buffer.from(a);
    for (let i = 0; i < 1000; i++) randomBytesPooled(32);
    assert.deepEqual(a, kept);
  });

  it("looks uniform: every bit position is set in roughly half of 4,000 draws", () => {
    const counts = new Array<number>(128).fill(0);
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const b = randomBytesPooled(16);
      for (let bit = 0; bit < 128; bit++)
        if ((b[bit >> 3] as number) & (1 << (bit & 7))) counts[bit] = (counts[bit] as number) + 1;
    }
    // 6 standard deviations of a fair coin over n draws: fails only for a broken generator.
    const sd = Math.sqrt(n / 4);
    for (const c of counts) assert.ok(Math.abs(c - n / 2) < 6 * sd, `bit set ${c} times of ${n}`);
  });

  it("serves large draws from the generator directly, and refuses a bad size", () => {
    assert.equal(randomBytesPooled(10_000).length, 10_000);
    assert.equal(randomBytesPooled(0).length, 0);
    assert.throws(() => randomBytesPooled(-1), RangeError);
    assert.throws(() => randomBytesPooled(1.5), RangeError);
  });

  it("encodes as base64url and hex", () => {
    assert.match(randomBase64url(32), /^[A-Za-z0-9_-]{43}$/);
    assert.match(randomHex(12), /^[0-9a-f]{24}$/);
  });
});
