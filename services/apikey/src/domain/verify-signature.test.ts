import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ALL_SCOPES,
  grantSigningPayload,
  hmacSignature,
  NONCE_TTL_MS,
  requestSigningPayload,
  SIGNATURE_WINDOW_MS,
} from "@pkiserver/kit/core";
import { addSecretKey, codeOf, ED25519_PUBLIC_PEM, makeDeps, type TestDeps } from "../testing/fixtures";
import { addApiKey } from "./add-api-key";
import { rotateApiKey } from "./rotate-api-key";
import { updateApiKey } from "./update-api-key";
import { type VerifySignatureInput, verifySignature } from "./verify-signature";

const ALL = [...ALL_SCOPES];

// API.md section 3 test vectors.
const GRANT_SECRET = "myverylongandsecuresecretforapikey";
const GRANT_TS = 1752006667020;
const REQUEST_SECRET = "CspXxVtTyE3sf6jB7z4CSjxoymuS2H67ZjNDfovTu3i8";
const REQUEST_TS = 1702555410352;
const REQUEST_NONCE = "3xUee4EA0gr8dg==";
const REQUEST_BODY = '{"jsonrpc":"2.0","id":1,"method":"pkiAdmin/listHosts","params":{}}';

async function secretKey(deps: TestDeps, clientSecret: string): Promise<string> {
  return addSecretKey(deps, { clientSecret, maxScope: ["pki:read"] });
}

async function pubKey(deps: TestDeps): Promise<string> {
  return (
    await addApiKey(deps, {
      name: "",
      type: "pubKey",
      clientPublicKey: ED25519_PUBLIC_PEM,
      maxScope: [],
      callerScope: ALL,
    })
  ).apiKeyId;
}

function grant(apiKeyId: string, signature: string, data?: string): VerifySignatureInput {
  return {
    apiKeyId,
    timestamp: GRANT_TS,
    nonce: "abc",
    payload: grantSigningPayload(GRANT_TS, "abc", data),
    signature,
  };
}

function request(apiKeyId: string, signature: string): VerifySignatureInput {
  return {
    apiKeyId,
    timestamp: REQUEST_TS,
    nonce: REQUEST_NONCE,
    payload: requestSigningPayload(REQUEST_TS, REQUEST_NONCE, "POST", "/main", REQUEST_BODY),
    signature,
  };
}

describe("verifySignature", () => {
  it("accepts the HMAC grant vectors, with and without data", async () => {
    const deps = makeDeps({ now: GRANT_TS + 1000 });
    const a = await secretKey(deps, GRANT_SECRET);
    const b = await secretKey(deps, GRANT_SECRET);
    assert.equal((await verifySignature(deps, grant(a, "U1/6pDBv7X2ksqtezcUKAU8vEZk="))).apiKeyId, a);
    assert.equal((await verifySignature(deps, grant(b, "j2B/I9VI4nffOFN9Wiz8MbHHqRI=", "hello"))).apiKeyId, b);
  });

  it("accepts the HMAC request vector", async () => {
    const deps = makeDeps({ now: REQUEST_TS - 5000 });
    const id = await secretKey(deps, REQUEST_SECRET);
    assert.equal((await verifySignature(deps, request(id, "X62q9WMd9TP4lTSiMKUk/R9yVlw="))).apiKeyId, id);
  });

  it("accepts the Ed25519 grant and request vectors", async () => {
    const deps = makeDeps({ now: GRANT_TS });
    const id = await pubKey(deps);
    const grantSig = "5znwVn14HnjySbszhkwf74wPwdEiURN3KIT3EO2ktghEm50e+su2xkdbRAs7s3ySnuDHXl1owsSbAT92g8eICw==";
    assert.equal((await verifySignature(deps, grant(id, grantSig))).type, "pubKey");
    deps.clock.set(REQUEST_TS);
    const reqSig = "GnmWxIlc3KDPc5ZzpMXFDdxigSiK7YsaszwG9yuTmEO9xC7+aFhEXgTa1Zz9oZ5lpaDeBUnX8Sc7zwNmGAD/CA==";
    assert.equal((await verifySignature(deps, request(id, reqSig))).type, "pubKey");
  });

  it("answers 12 to a replayed nonce, also when re-signed with another timestamp", async () => {
    const deps = makeDeps({ now: REQUEST_TS });
    const id = await secretKey(deps, REQUEST_SECRET);
    await verifySignature(deps, request(id, "X62q9WMd9TP4lTSiMKUk/R9yVlw="));
    assert.equal(
      await codeOf(verifySignature(deps, request(id, "X62q9WMd9TP4lTSiMKUk/R9yVlw="))),
      "auth.invalid_credentials",
    );
    const ts = REQUEST_TS + 1;
    const payload = requestSigningPayload(ts, REQUEST_NONCE, "POST", "/main", REQUEST_BODY);
    const input = { apiKeyId: id, timestamp: ts, nonce: REQUEST_NONCE, payload };
    assert.equal(
      await codeOf(verifySignature(deps, { ...input, signature: hmacSignature(REQUEST_SECRET, payload) })),
      "auth.invalid_credentials",
    );
  });

  it("accepts a nonce again once its 20 minutes are over", async () => {
    const deps = makeDeps({ now: REQUEST_TS });
    const id = await secretKey(deps, REQUEST_SECRET);
    await verifySignature(deps, request(id, "X62q9WMd9TP4lTSiMKUk/R9yVlw="));
    const ts = REQUEST_TS + NONCE_TTL_MS;
    deps.clock.set(ts);
    const payload = requestSigningPayload(ts, REQUEST_NONCE, "POST", "/main", REQUEST_BODY);
    const signature = hmacSignature(REQUEST_SECRET, payload);
    assert.equal(
      await codeOf(verifySignature(deps, { apiKeyId: id, timestamp: ts, nonce: REQUEST_NONCE, payload, signature })),
      "ok",
    );
  });

  it("answers 12 outside the ±10 minute window and accepts its edges", async () => {
    const deps = makeDeps();
    const id = await secretKey(deps, REQUEST_SECRET);
    const cases: [number, string][] = [
      [REQUEST_TS + SIGNATURE_WINDOW_MS + 1, "auth.invalid_credentials"],
      [REQUEST_TS - SIGNATURE_WINDOW_MS - 1, "auth.invalid_credentials"],
      [REQUEST_TS + SIGNATURE_WINDOW_MS, "ok"],
    ];
    for (const [now, expected] of cases) {
      deps.clock.set(now);
      assert.equal(
        await codeOf(verifySignature(deps, request(id, "X62q9WMd9TP4lTSiMKUk/R9yVlw="))),
        expected,
        `${now}`,
      );
    }
  });

  it("answers 12 to a bad signature without using up the nonce", async () => {
    const deps = makeDeps({ now: REQUEST_TS });
    const id = await secretKey(deps, REQUEST_SECRET);
    for (const bad of ["X62q9WMd9TP4lTSiMKUk/R9yVlx=", "", "x".repeat(5000), "U1/6pDBv7X2ksqtezcUKAU8vEZk="]) {
      assert.equal(await codeOf(verifySignature(deps, request(id, bad))), "auth.invalid_credentials");
    }
    assert.equal(await codeOf(verifySignature(deps, request(id, "X62q9WMd9TP4lTSiMKUk/R9yVlw="))), "ok");
  });

  it("answers 12 when the payload does not start with the checked timestamp and nonce", async () => {
    const deps = makeDeps({ now: REQUEST_TS });
    const id = await secretKey(deps, REQUEST_SECRET);
    const valid = request(id, "X62q9WMd9TP4lTSiMKUk/R9yVlw=");
    assert.equal(await codeOf(verifySignature(deps, { ...valid, nonce: "another-nonce" })), "auth.invalid_credentials");
    assert.equal(
      await codeOf(verifySignature(deps, { ...valid, timestamp: REQUEST_TS + 1 })),
      "auth.invalid_credentials",
    );
  });

  it("answers 12 to a grant signature replayed under a nonce that takes characters from the data", async () => {
    const deps = makeDeps({ now: GRANT_TS });
    const id = await secretKey(deps, GRANT_SECRET);
    const payload = grantSigningPayload(GRANT_TS, "n1", "x;\n\ny");
    const signature = hmacSignature(GRANT_SECRET, payload);
    const first = { apiKeyId: id, timestamp: GRANT_TS, nonce: "n1", payload, signature };
    assert.equal(await codeOf(verifySignature(deps, first)), "ok");
    // The same bytes read as nonce `n1;\n\nx` and data `y`.
    assert.deepEqual(grantSigningPayload(GRANT_TS, "n1;\n\nx", "y"), payload);
    assert.equal(await codeOf(verifySignature(deps, { ...first, nonce: "n1;\n\nx" })), "auth.invalid_credentials");
  });

  it("answers 12 to a nonce outside the base64 alphabets, however well signed, without spending it", async () => {
    const deps = makeDeps({ now: REQUEST_TS });
    const id = await secretKey(deps, REQUEST_SECRET);
    for (const nonce of ["a.b", "a b", "", "é", "a".repeat(65), "a;b"]) {
      const payload = requestSigningPayload(REQUEST_TS, nonce, "POST", "/main", REQUEST_BODY);
      const input = {
        apiKeyId: id,
        timestamp: REQUEST_TS,
        nonce,
        payload,
        signature: hmacSignature(REQUEST_SECRET, payload),
      };
      assert.equal(await codeOf(verifySignature(deps, input)), "auth.invalid_credentials", JSON.stringify(nonce));
    }
    assert.equal(await deps.nonces.purgeExpired(REQUEST_TS + NONCE_TTL_MS), 0, "no nonce was recorded");
  });

  it("answers 12 for a disabled key and for a signature of the other key type", async () => {
    const deps = makeDeps({ now: REQUEST_TS });
    const id = await secretKey(deps, REQUEST_SECRET);
    await updateApiKey(deps, { apiKeyId: id, enabled: false, callerScope: ALL });
    assert.equal(
      await codeOf(verifySignature(deps, request(id, "X62q9WMd9TP4lTSiMKUk/R9yVlw="))),
      "auth.invalid_credentials",
    );
    const pub = await pubKey(deps);
    assert.equal(
      await codeOf(verifySignature(deps, request(pub, "X62q9WMd9TP4lTSiMKUk/R9yVlw="))),
      "auth.invalid_credentials",
    );
  });

  it("answers 71 for an unknown key", async () => {
    const deps = makeDeps({ now: REQUEST_TS });
    assert.equal(
      await codeOf(verifySignature(deps, request("0123456789abcdef01234567", "X62q9WMd9TP4lTSiMKUk/R9yVlw="))),
      "apikey.not_found",
    );
  });

  it("lets exactly one of concurrent uses of one signed request through", async () => {
    const deps = makeDeps({ now: REQUEST_TS });
    const id = await secretKey(deps, REQUEST_SECRET);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => codeOf(verifySignature(deps, request(id, "X62q9WMd9TP4lTSiMKUk/R9yVlw=")))),
    );
    assert.equal(results.filter((r) => r === "ok").length, 1);
  });
});

describe("verifySignature reports its verdict, while every refusal answers alike", () => {
  const attempt = { method: "signature", clientIp: "2001:db8::1", requestId: "req-2" };
  const signedAt = (id: string, secret: string, ts: number, nonce: string): VerifySignatureInput => {
    const payload = requestSigningPayload(ts, nonce, "POST", "/main", REQUEST_BODY);
    return { apiKeyId: id, timestamp: ts, nonce, payload, signature: hmacSignature(secret, payload), attempt };
  };

  it("names a bad signature, a stale timestamp, a replayed nonce, a rotated-away secret and a disabled key", async () => {
    const deps = makeDeps({ now: REQUEST_TS });
    const id = await secretKey(deps, REQUEST_SECRET);
    const codes: string[] = [];
    const run = async (input: VerifySignatureInput) => codes.push(await codeOf(verifySignature(deps, input)));
    await run({ ...signedAt(id, REQUEST_SECRET, REQUEST_TS, "n-bad"), signature: "X62q9WMd9TP4lTSiMKUk/R9yVlx=" });
    await run(signedAt(id, REQUEST_SECRET, REQUEST_TS - SIGNATURE_WINDOW_MS - 1, "n-stale"));
    await run(signedAt(id, REQUEST_SECRET, REQUEST_TS, "n-once"));
    await run(signedAt(id, REQUEST_SECRET, REQUEST_TS, "n-once"));
    // The secret rotated with no grace period: a signature with the old one is an expired credential.
    const newer = "n".repeat(40);
    await rotateApiKey(deps, { apiKeyId: id, clientSecret: newer, gracePeriod: 0, callerScope: ALL });
    await run(signedAt(id, REQUEST_SECRET, REQUEST_TS, "n-old"));
    await updateApiKey(deps, { apiKeyId: id, enabled: false, callerScope: ALL });
    await run(signedAt(id, newer, REQUEST_TS, "n-disabled"));
    await run({ ...signedAt("0123456789abcdef01234567", newer, REQUEST_TS, "n-unknown") });
    assert.deepEqual(codes, [
      "auth.invalid_credentials",
      "auth.invalid_credentials",
      "ok",
      "auth.invalid_credentials",
      "auth.invalid_credentials",
      "auth.invalid_credentials",
      "apikey.not_found",
    ]);
    assert.deepEqual(
      deps.events.refusals.map((r) => r.reason),
      ["bad_signature", "stale_timestamp", "replayed_nonce", "expired_key", "disabled_key", "unknown_key"],
    );
    for (const r of deps.events.refusals) {
      assert.equal(r.method, "signature");
      assert.equal(r.clientIp, "2001:db8::1");
      assert.equal(r.requestId, "req-2");
    }
    // The disabled key's nonce was not spent: enabled again, the same request passes.
    await updateApiKey(deps, { apiKeyId: id, enabled: true, callerScope: ALL });
    assert.equal(await codeOf(verifySignature(deps, signedAt(id, newer, REQUEST_TS, "n-disabled"))), "ok");
  });
});
