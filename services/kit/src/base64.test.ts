import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { decodeCanonicalBase64 } from "./base64";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Every other spelling of `canonical` that Node's lenient decoder maps to the same bytes. */
function lenientTwins(canonical: string, alphabet: "base64" | "base64url"): string[] {
  const chars = alphabet === "base64" ? B64 : B64URL;
  const data = canonical.replace(/=+$/, "");
  const padding = canonical.slice(data.length);
  const bytes = Buffer.from(canonical, alphabet);
  const twins = [...chars]
    .map((c) => `${data.slice(0, -1)}${c}${padding}`)
    .filter((t) => t !== canonical && Buffer.from(t, alphabet).equals(bytes));
  twins.push(`${canonical}=`, `${canonical}==`, ` ${canonical}`, `${canonical}\n`);
  // Padding left out, or only half of it.
  if (padding !== "") twins.push(data);
  if (padding === "==") twins.push(`${data}=`);
  for (const t of twins) assert.ok(Buffer.from(t, alphabet).equals(bytes), `${t} is a lenient twin`);
  return [...new Set(twins)].filter((t) => t !== canonical);
}

describe("canonical base64", () => {
  it("decodes what the encoder produces, for every length and both alphabets", () => {
    for (let n = 0; n <= 70; n++) {
      const bytes = randomBytes(n);
      assert.deepEqual(decodeCanonicalBase64(bytes.toString("base64"), "base64"), bytes);
      assert.deepEqual(decodeCanonicalBase64(bytes.toString("base64url"), "base64url"), bytes);
    }
  });

  it("refuses the 15 other last characters and appended padding of a 64-byte Ed25519 signature", () => {
    const sig = randomBytes(64);
    for (const alphabet of ["base64", "base64url"] as const) {
      const twins = lenientTwins(sig.toString(alphabet), alphabet);
      assert.ok(twins.length >= 15 + 2);
      for (const t of twins) assert.equal(decodeCanonicalBase64(t, alphabet), undefined, JSON.stringify(t));
    }
  });

  it("refuses the 3 other last characters, missing and extra padding of a 20-byte HMAC signature", () => {
    const sig = "X62q9WMd9TP4lTSiMKUk/R9yVlw=";
    const twins = lenientTwins(sig, "base64");
    for (const c of ["x", "y", "z"]) assert.ok(twins.includes(`X62q9WMd9TP4lTSiMKUk/R9yVl${c}=`), c);
    assert.ok(twins.includes("X62q9WMd9TP4lTSiMKUk/R9yVlw"));
    for (const t of twins) assert.equal(decodeCanonicalBase64(t, "base64"), undefined, JSON.stringify(t));
    assert.deepEqual(decodeCanonicalBase64(sig, "base64"), Buffer.from(sig, "base64"));
  });

  it("refuses the other alphabet, padding in base64url, and characters outside the alphabet", () => {
    const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x01]);
    assert.equal(bytes.toString("base64"), "+/+/AQ==");
    assert.equal(decodeCanonicalBase64("-_-_AQ==", "base64"), undefined);
    assert.equal(decodeCanonicalBase64("+/+/AQ", "base64url"), undefined);
    assert.equal(decodeCanonicalBase64("-_-_AQ==", "base64url"), undefined);
    assert.deepEqual(decodeCanonicalBase64("-_-_AQ", "base64url"), bytes);
    for (const bad of ["+/+/A Q==", "+/+/AQ==\0", "+/+/.AQ==", "+/+/A=Q=", "=+/+AQ=="]) {
      assert.equal(decodeCanonicalBase64(bad, "base64"), undefined, JSON.stringify(bad));
    }
  });
});
