import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { canonicalJson, decodeEntry, encodeEntry, historyKey, MAX_ENTRY_BYTES } from "./entry.js";

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("canonical entries (RFC 8785)", () => {
  it("sorts members by UTF-16 code units and prints numbers as JCS requires", () => {
    // From RFC 8785 appendix B and section 3.2.3.
    assert.equal(
      canonicalJson({ "\u20ac": 1, "\r": 2, "\ud83d\ude00": 3, "1": 4, "\u00f6": 5 }),
      '{"\\r":2,"1":4,"ö":5,"€":1,"😀":3}',
    );
    assert.equal(
      canonicalJson([1e21, 1e-7, 333333333.3333333, -0, 4.5, 2 ** 53]),
      "[1e+21,1e-7,333333333.3333333,0,4.5,9007199254740992]",
    );
    assert.equal(canonicalJson("\u2028\u0007"), '"\u2028\\u0007"');
  });

  it("encodes a key record with only the contract's fields, optional ones absent", () => {
    const first = encodeEntry({
      type: "key",
      userId: "u",
      instanceId: "i",
      contextId: "c",
      userPubKey: "K",
      createDate: 1700000000000,
      seq: 0,
      prev: "ignored at seq 0",
      extra: "never hashed",
    } as never);
    assert.equal(
      text(first),
      '{"contextId":"c","createDate":1700000000000,"instanceId":"i","seq":0,"type":"key","userId":"u","userPubKey":"K"}',
    );
    const deletion = encodeEntry({
      type: "key",
      userId: "u",
      instanceId: "i",
      contextId: "c",
      createDate: 5,
      seq: 1,
      prev: "AA==",
    });
    assert.equal(
      text(deletion),
      '{"contextId":"c","createDate":5,"instanceId":"i","prev":"AA==","seq":1,"type":"key","userId":"u"}',
    );
    assert.throws(() =>
      encodeEntry({ type: "key", userId: "u", instanceId: "i", contextId: "c", createDate: 5, seq: 1 }),
    );
  });

  it("encodes a host change with its addresses in order", () => {
    const e = encodeEntry({
      type: "host",
      instanceId: "I",
      hostPubKey: "P",
      addresses: ["b", "a"],
      deleted: false,
      createDate: 9,
    });
    assert.equal(
      text(e),
      '{"addresses":["b","a"],"createDate":9,"deleted":false,"hostPubKey":"P","instanceId":"I","type":"host"}',
    );
    assert.deepEqual(decodeEntry(e), {
      addresses: ["b", "a"],
      createDate: 9,
      deleted: false,
      hostPubKey: "P",
      instanceId: "I",
      type: "host",
    });
  });

  it("refuses entries over 65,535 bytes and non-canonical entry bytes", () => {
    const big = {
      type: "key" as const,
      userId: "u",
      instanceId: "i",
      contextId: "c",
      createDate: 1,
      seq: 0,
      customData: "x".repeat(MAX_ENTRY_BYTES),
    };
    assert.throws(() => encodeEntry(big), /over 65535/);
    assert.throws(() =>
      decodeEntry(
        new TextEncoder().encode(
          '{"type":"host","instanceId":"I","hostPubKey":"P","addresses":[],"deleted":false,"createDate":9}',
        ),
      ),
    );
    assert.throws(() => decodeEntry(new TextEncoder().encode('{"seq":0,"type":"key","extra":1}')));
  });

  it("keys a history by SHA-256 of the canonical [userId, instanceId, contextId]", () => {
    const want = createHash("sha256").update('["u","i","c"]').digest();
    assert.deepEqual(Buffer.from(historyKey("u", "i", "c")), want);
  });
});
