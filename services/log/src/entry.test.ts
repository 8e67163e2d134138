import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  canonicalJson,
  decodeEntry,
  EntryBlocks,
  encodeEntry,
  historyKey,
  KeyEntryEncoder,
  MAX_ENTRY_BYTES,
} from "./entry.js";

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

  it("a key record's bytes are the canonical JSON of its fields, whatever characters they hold", () => {
    // The library's JCS of the contract's members, against the encoder written out for key records.
    const strings = [
      "",
      "plain",
      'quote " and \\ backslash',
      "controls \u0000\u0001\b\f\n\r\t\u001f\u007f",
      "\u2028\u2029 separators",
      "ö € 😀 mixed",
      "lone \ud800 high and \udc00 low",
      '{"json":"in a string",  "n": [1, 2e3]}',
      "x".repeat(300),
    ];
    let n = 0;
    const blocks = new EntryBlocks();
    for (const a of strings) {
      for (const b of [strings[1]!, a]) {
        for (const seq of [0, 1, 41]) {
          const fields = {
            type: "key" as const,
            userId: a,
            instanceId: b,
            contextId: `${b}${a}`,
            createDate: [0, 1700000000000, 2 ** 53 - 1, 1.5, -3][n % 5]!,
            seq,
            ...(n % 3 === 0 ? {} : { userPubKey: a }),
            ...(n % 2 === 0 ? {} : { customData: b }),
            ...(seq === 0 ? {} : { prev: a }),
          };
          n++;
          assert.equal(text(encodeEntry(fields)), canonicalJson(fields), JSON.stringify(fields));
          const history = new KeyEntryEncoder(fields.userId, fields.instanceId, fields.contextId);
          assert.equal(history.text(fields, seq, fields.prev), canonicalJson(fields));
          const framed = blocks.write(history.text(fields, seq, fields.prev));
          assert.equal(framed[0], 0);
          assert.equal(text(framed.subarray(1)), canonicalJson(fields));
          assert.deepEqual(decodeEntry(encodeEntry(fields)), JSON.parse(canonicalJson(fields)));
        }
      }
      assert.deepEqual(
        Buffer.from(historyKey(a, strings[1]!, a)),
        createHash("sha256")
          .update(canonicalJson([a, strings[1], a]))
          .digest(),
      );
    }
    // Not of its contract type (possible only from outside TypeScript): printed as it is, not dropped.
    const odd = { type: "key", userId: "u", instanceId: "i", contextId: "c", createDate: 1, seq: 0, customData: null };
    assert.equal(text(encodeEntry(odd as never)), canonicalJson(odd));
  });
});
