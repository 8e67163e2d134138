import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ed25519Sign,
  grantSigningPayload,
  hmacSignature,
  NONCE_PATTERN,
  nonceProblem,
  parseSignatureCredentials,
  requestSigningPayload,
  verifyEd25519,
  verifyHmac,
} from "./signature";

// Vectors from API.md section 3.
const PRIVATE =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOBVFGaSFtfqbNvZWctFKg3k+I0T5YXRavpKAD9+BgCX\n-----END PRIVATE KEY-----";
const PUBLIC =
  "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEADsSTjY2wnm1iwWamIWwLTPVhtTIb8TVlI8tts3wkhkQ=\n-----END PUBLIC KEY-----";
const BODY = '{"jsonrpc":"2.0","id":1,"method":"pkiAdmin/listHosts","params":{}}';

describe("signature vectors of API.md", () => {
  it("grant string without data signs with HMAC to the documented value", () => {
    const p = grantSigningPayload(1752006667020, "abc", undefined);
    assert.equal(p.toString(), "1752006667020;abc;\n\n\n");
    assert.equal(hmacSignature("myverylongandsecuresecretforapikey", p), "U1/6pDBv7X2ksqtezcUKAU8vEZk=");
  });
  it("grant string with data signs with HMAC to the documented value", () => {
    const p = grantSigningPayload(1752006667020, "abc", "hello");
    assert.equal(hmacSignature("myverylongandsecuresecretforapikey", p), "j2B/I9VI4nffOFN9Wiz8MbHHqRI=");
  });
  it("request string signs with HMAC to the documented value", () => {
    const p = requestSigningPayload(1702555410352, "3xUee4EA0gr8dg==", "post", "/main", BODY);
    const sig = hmacSignature("CspXxVtTyE3sf6jB7z4CSjxoymuS2H67ZjNDfovTu3i8", p);
    assert.equal(sig, "X62q9WMd9TP4lTSiMKUk/R9yVlw=");
    assert.equal(sig.length, 28);
    assert.ok(verifyHmac("CspXxVtTyE3sf6jB7z4CSjxoymuS2H67ZjNDfovTu3i8", p, sig));
    assert.ok(!verifyHmac("CspXxVtTyE3sf6jB7z4CSjxoymuS2H67ZjNDfovTu3i9", p, sig));
  });
  it("Ed25519 signatures of both strings match the documented values and verify", () => {
    const grant = grantSigningPayload(1752006667020, "abc", undefined);
    const req = requestSigningPayload(1702555410352, "3xUee4EA0gr8dg==", "POST", "/main", BODY);
    const g = "5znwVn14HnjySbszhkwf74wPwdEiURN3KIT3EO2ktghEm50e+su2xkdbRAs7s3ySnuDHXl1owsSbAT92g8eICw==";
    const r = "GnmWxIlc3KDPc5ZzpMXFDdxigSiK7YsaszwG9yuTmEO9xC7+aFhEXgTa1Zz9oZ5lpaDeBUnX8Sc7zwNmGAD/CA==";
    assert.equal(ed25519Sign(PRIVATE, grant), g);
    assert.equal(ed25519Sign(PRIVATE, req), r);
    assert.ok(verifyEd25519(PUBLIC, grant, g));
    assert.ok(verifyEd25519(PUBLIC, req, r));
    assert.ok(!verifyEd25519(PUBLIC, req, g));
  });
});

describe("nonces (API.md section 3)", () => {
  it("a nonce that could move characters between nonce and data is refused, so a grant string splits one way only", () => {
    // Both grants sign the same bytes: with such nonces a signature could be replayed under a fresh nonce.
    const a = grantSigningPayload(1752006667020, "n1", "x;\n\ny");
    const b = grantSigningPayload(1752006667020, "n1;\n\nx", "y");
    assert.deepEqual(a, b);
    assert.equal(nonceProblem("n1"), undefined);
    assert.equal(nonceProblem("n1;\n\nx"), "Invalid characters! Expected only A-Z a-z 0-9 + / = _ -");
  });

  it("accepts 1..64 characters of the base64 and base64url alphabets", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-";
    for (const nonce of [
      "a",
      "3xUee4EA0gr8dg==",
      "n-1",
      "x_y",
      "Z".repeat(64),
      alphabet.slice(0, 64),
      alphabet.slice(4),
    ]) {
      assert.equal(nonceProblem(nonce), undefined, nonce);
      assert.ok(NONCE_PATTERN.test(nonce), nonce);
    }
  });

  it("refuses an empty or over-long nonce and any character outside the alphabets", () => {
    assert.equal(nonceProblem(""), "Invalid length! Expected min 1, get 0");
    assert.equal(nonceProblem("a".repeat(65)), "Invalid length! Expected max 64, get 65");
    for (const nonce of ["a;b", "a\nb", "a\rb", "a b", "a.b", "a:b", "a%3B", "é", "a\u0000", "a\tb", "a\n"]) {
      assert.match(String(nonceProblem(nonce)), /^Invalid characters!/, JSON.stringify(nonce));
      assert.ok(!NONCE_PATTERN.test(nonce), JSON.stringify(nonce));
    }
  });

  it("a signature header with a nonce outside the alphabet does not parse", () => {
    const sig = "X62q9WMd9TP4lTSiMKUk/R9yVlw=";
    assert.ok(parseSignatureCredentials(`key;1;1702555410352;3xUee4EA0gr8dg==;${sig}`));
    for (const nonce of ["a.b", "a b", "", "é", "a".repeat(65), "a,b"]) {
      assert.equal(parseSignatureCredentials(`key;1;1702555410352;${nonce};${sig}`), undefined, nonce);
    }
  });
});

/** The spellings of a base64 signature a lenient decoder reads as the same bytes: other last characters, padding changed. */
function lenientSpellings(sig: string): string[] {
  const data = sig.replace(/=+$/, "");
  const padding = sig.slice(data.length);
  const bytes = Buffer.from(sig, "base64");
  const out = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"]
    .map((c) => `${data.slice(0, -1)}${c}${padding}`)
    .filter((t) => t !== sig && Buffer.from(t, "base64").equals(bytes));
  out.push(data, `${sig}=`, `${sig}==`);
  for (const t of out) assert.ok(Buffer.from(t, "base64").equals(bytes), t);
  return out;
}

describe("signatures are canonical base64 (API.md section 3)", () => {
  it("an Ed25519 signature is refused under each of its other spellings", () => {
    const req = requestSigningPayload(1702555410352, "3xUee4EA0gr8dg==", "POST", "/main", BODY);
    const r = "GnmWxIlc3KDPc5ZzpMXFDdxigSiK7YsaszwG9yuTmEO9xC7+aFhEXgTa1Zz9oZ5lpaDeBUnX8Sc7zwNmGAD/CA==";
    const spellings = lenientSpellings(r);
    assert.equal(spellings.length, 15 + 3);
    for (const t of spellings) assert.equal(verifyEd25519(PUBLIC, req, t), false, t);
    assert.ok(verifyEd25519(PUBLIC, req, r));
  });

  it("an HMAC signature is refused under each of its other spellings", () => {
    const secret = "CspXxVtTyE3sf6jB7z4CSjxoymuS2H67ZjNDfovTu3i8";
    const p = requestSigningPayload(1702555410352, "3xUee4EA0gr8dg==", "POST", "/main", BODY);
    const spellings = lenientSpellings("X62q9WMd9TP4lTSiMKUk/R9yVlw=");
    assert.equal(spellings.length, 3 + 3);
    for (const t of spellings) assert.equal(verifyHmac(secret, p, t), false, t);
    assert.ok(verifyHmac(secret, p, "X62q9WMd9TP4lTSiMKUk/R9yVlw="));
    for (const t of ["", "X62q9WMd9TP4lTSiMKUk/R9yVlw=X62q", "X62q9WMd9TP4lTSiMKUk_R9yVlw="]) {
      assert.equal(verifyHmac(secret, p, t), false, t);
    }
  });
});
