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

  it("matches a candidate against a sealed value in constant time, opening each sealed value once", () => {
    let opened = 0;
    class Counting extends SecretBox {
      override open(sealed: string, associatedData = ""): string {
        opened++;
        return super.open(sealed, associatedData);
      }
    }
    const box = new Counting([{ kid: "a", key: Buffer.from(k1, "base64") }]);
    const sealed = box.seal("s3cret-value", "key-1");
    assert.equal(box.matches(sealed, "s3cret-value", "key-1"), true);
    assert.equal(box.matches(sealed, "s3cret-valuf", "key-1"), false);
    assert.equal(box.matches(sealed, "s3cret", "key-1"), false);
    assert.equal(box.matches(sealed, "", "key-1"), false);
    assert.equal(opened, 1, "the digest of an opened value serves the next comparisons");
    // Another sealing of the same value is another entry; other associated data is opened (and refused).
    assert.equal(box.matches(box.seal("s3cret-value", "key-1"), "s3cret-value", "key-1"), true);
    assert.equal(opened, 2);
    assert.throws(() => box.matches(sealed, "s3cret-value", "key-2"));
  });

  it("refuses to match against a tampered sealed value", () => {
    const box = SecretBox.fromConfig(`a:${k1}`);
    const parts = box.seal("v", "key-1").split(".");
    const ct = Buffer.from(parts[4] as string, "base64url");
    ct[0] = (ct[0] as number) ^ 1;
    parts[4] = ct.toString("base64url");
    assert.throws(() => box.matches(parts.join("."), "v", "key-1"));
  });
});
