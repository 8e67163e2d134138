import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ed25519Sign,
  grantSigningPayload,
  hmacSignature,
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
