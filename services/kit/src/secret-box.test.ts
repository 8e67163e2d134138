import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { SecretBox } from "./secret-box";

describe("SecretBox", () => {
  const k1 = randomBytes(32).toString("base64");
  const k2 = randomBytes(32).toString("base64");

  it("round-trips and never leaves the plain text in the sealed form", () => {
    const box = SecretBox.fromConfig(`a:${k1}`);
    const sealed = box.seal("my-very-secret-value", "key-1");
    assert.ok(!sealed.includes("my-very-secret-value"));
    assert.equal(box.open(sealed, "key-1"), "my-very-secret-value");
  });

  it("refuses a value bound to other associated data or tampered with", () => {
    const box = SecretBox.fromConfig(`a:${k1}`);
    const sealed = box.seal("v", "key-1");
    assert.throws(() => box.open(sealed, "key-2"));
    const parts = sealed.split(".");
    // One bit of the ciphertext flipped (a fixed replacement would equal it one time in 256).
    const ct = Buffer.from(parts[4] as string, "base64url");
    ct[0] = (ct[0] as number) ^ 1;
    parts[4] = ct.toString("base64url");
    assert.throws(() => box.open(parts.join("."), "key-1"));
  });

  it("decrypts values sealed under an older key after rotation", () => {
    const old = SecretBox.fromConfig(`a:${k1}`);
    const sealed = old.seal("v");
    const rotated = SecretBox.fromConfig(`b:${k2},a:${k1}`);
    assert.equal(rotated.open(sealed), "v");
    assert.equal(SecretBox.kidOf(rotated.seal("w")), "b");
  });

  it("rejects keys of the wrong length", () => {
    assert.throws(() => SecretBox.fromConfig(`a:${randomBytes(16).toString("base64")}`), /32 bytes/);
  });

  it("refuses a sealed value whose authentication tag was cut short", () => {
    const box = SecretBox.fromConfig(`a:${k1}`);
    const [v, kid, iv, tag, ct] = box.seal("v", "key-1").split(".") as [string, string, string, string, string];
    const short = Buffer.from(tag, "base64url").subarray(0, 4).toString("base64url");
    assert.throws(() => box.open([v, kid, iv, short, ct].join("."), "key-1"));
  });

  it("refuses a key list naming one key id twice", () => {
    assert.throws(() => SecretBox.fromConfig(`a:${k1},a:${k2}`), /'a'.*twice/);
  });
});
