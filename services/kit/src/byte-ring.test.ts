import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ByteRing } from "./byte-ring";

/** A record whose bytes say which one it is: its number, repeated. */
function bytesOf(n: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (n * 31 + i) & 0xff;
  return b;
}

function pushBytes(ring: ByteRing, bytes: Buffer): number {
  return ring.push(bytes.length, (buf, at) => {
    bytes.copy(buf, at);
  });
}

/** A deterministic sequence of numbers in [0, 1). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

describe("ByteRing", () => {
  it("numbers records in the order pushed and gives their bytes back", () => {
    const ring = new ByteRing(10, 1000);
    for (let n = 0; n < 5; n++) assert.equal(pushBytes(ring, bytesOf(n, 3 + n)), n);
    assert.equal(ring.size, 5);
    assert.equal(ring.firstSeq, 0);
    assert.equal(ring.nextSeq, 5);
    for (let n = 0; n < 5; n++) assert.deepEqual(ring.view(n), bytesOf(n, 3 + n));
    assert.equal(ring.has(5), false);
    assert.throws(() => ring.view(5), RangeError);
  });

  it("drops the oldest past its count, telling of each while it can still be read", () => {
    const dropped: [number, Buffer][] = [];
    const ring: ByteRing = new ByteRing(3, 1000, (seq) => dropped.push([seq, Buffer.from(ring.view(seq))]));
    for (let n = 0; n < 6; n++) pushBytes(ring, bytesOf(n, 4));
    assert.equal(ring.size, 3);
    assert.equal(ring.firstSeq, 3);
    assert.deepEqual(
      dropped,
      [0, 1, 2].map((n) => [n, bytesOf(n, 4)]),
    );
    for (let n = 3; n < 6; n++) assert.deepEqual(ring.view(n), bytesOf(n, 4));
  });

  it("keeps at most its bytes, and refuses a record larger than them without dropping anything", () => {
    const ring = new ByteRing(100, 100, undefined, 16);
    for (let n = 0; n < 20; n++) pushBytes(ring, bytesOf(n, 30));
    assert.ok(ring.capacity <= 100);
    assert.ok(ring.size >= 1 && ring.size * 30 <= 100, `kept ${ring.size}`);
    assert.equal(ring.nextSeq, 20);
    const before = ring.size;
    assert.equal(pushBytes(ring, bytesOf(99, 101)), -1);
    assert.equal(ring.size, before);
    assert.equal(ring.nextSeq, 20);
    assert.throws(() => ring.push(0, () => {}), RangeError);
  });

  for (const maxBytes of [16 * 1024, 1024]) {
    it(`keeps the newest records intact through growth and wrap-around, within ${maxBytes} bytes`, () => {
      const rnd = lcg(maxBytes);
      const maxRecords = 50;
      const ring = new ByteRing(maxRecords, maxBytes, undefined, 64);
      const pushed: Buffer[] = [];
      for (let n = 0; n < 5000; n++) {
        const b = bytesOf(n, 1 + Math.floor(rnd() * 120));
        assert.equal(pushBytes(ring, b), n);
        pushed.push(b);
        // What is kept is the newest records, each as pushed.
        assert.equal(ring.nextSeq, n + 1);
        assert.ok(ring.size >= 1 && ring.size <= maxRecords);
        let bytes = 0;
        for (let seq = ring.firstSeq; seq < ring.nextSeq; seq++) {
          const want = pushed[seq] as Buffer;
          assert.deepEqual(ring.view(seq), want);
          bytes += want.length;
        }
        assert.ok(bytes <= ring.capacity && ring.capacity <= maxBytes);
        if (n < maxRecords) continue;
        if (maxBytes === 16 * 1024) {
          // Fifty records of at most 120 bytes (6,000) fit in half of the buffer: only the count drops them.
          assert.equal(ring.size, maxRecords, `after ${n}`);
        } else if (ring.size < maxRecords) {
          // Dropped for room: what stays still fills a good part of the buffer.
          assert.ok(bytes >= maxBytes / 4, `kept ${bytes} bytes after ${n}`);
        }
      }
    });
  }

  it("sizes its buffer by what it keeps, not by its bound", () => {
    const ring = new ByteRing(100, 64 * 1024 * 1024, undefined, 1024);
    for (let n = 0; n < 20_000; n++) pushBytes(ring, bytesOf(n, 50));
    assert.equal(ring.size, 100);
    // 100 records of 50 bytes: 5,000 bytes kept; the buffer at most doubles past twice that.
    assert.ok(ring.capacity <= 16 * 1024, `capacity ${ring.capacity}`);
  });

  it("drops every record on clear, and starts again at the same numbers' successors", () => {
    const seen: number[] = [];
    const ring = new ByteRing(10, 1000, (seq) => seen.push(seq));
    for (let n = 0; n < 4; n++) pushBytes(ring, bytesOf(n, 5));
    ring.clear();
    assert.deepEqual(seen, [0, 1, 2, 3]);
    assert.equal(ring.size, 0);
    assert.equal(pushBytes(ring, bytesOf(4, 5)), 4);
    assert.deepEqual(ring.view(4), bytesOf(4, 5));
  });
});
