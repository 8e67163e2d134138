import assert from "node:assert/strict";
import { createECDH } from "node:crypto";
import { describe, it } from "node:test";
import bs58check from "bs58check";
import { isValidPubKey, randomPubKey } from "./pubkey";

describe("isValidPubKey", () => {
  it("accepts the contract's example keys and freshly made ones", () => {
    assert.equal(isValidPubKey("8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH"), true);
    assert.equal(isValidPubKey("51WPnnGwztNPWUDEbhncYDxZCZWAFS4M9Yqv94N2335nL92fEn"), true);
    for (let i = 0; i < 20; i++) assert.equal(isValidPubKey(randomPubKey()), true);
  });

  it("rejects a key whose checksum does not match", () => {
    const good = "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH";
    const bad = `${good.slice(0, -1)}${good.endsWith("H") ? "J" : "H"}`;
    assert.equal(isValidPubKey(bad), false);
  });

  it("rejects text that is not base58 and values of the wrong size", () => {
    for (const s of ["", "0OIl", "not a key", "x".repeat(500)]) assert.equal(isValidPubKey(s), false);
    assert.equal(isValidPubKey(bs58check.encode(new Uint8Array(32).fill(7))), false);
  });

  it("rejects uncompressed points although they are on the curve", () => {
    const ecdh = createECDH("secp256k1");
    ecdh.generateKeys();
    const uncompressed = ecdh.getPublicKey(null, "uncompressed");
    assert.equal(isValidPubKey(bs58check.encode(uncompressed)), false);
  });

  it("rejects 33 bytes with a prefix other than 02/03", () => {
    const point = bs58check.decode("8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH");
    for (const prefix of [0x00, 0x04, 0x05]) {
      const b = Uint8Array.from(point);
      b[0] = prefix;
      assert.equal(isValidPubKey(bs58check.encode(b)), false);
    }
  });

  it("rejects an x coordinate that has no point on the curve", () => {
    // x = 5 has no square root for y on secp256k1.
    const b = new Uint8Array(33);
    b[0] = 0x02;
    b[32] = 5;
    assert.equal(isValidPubKey(bs58check.encode(b)), false);
    const zero = new Uint8Array(33);
    zero[0] = 0x03;
    assert.equal(isValidPubKey(bs58check.encode(zero)), false);
  });
});
