import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import {
  type AccessTokenClaims,
  createAccessTokenVerifier,
  MAX_AUDIENCE_LENGTH,
  MAX_ISSUER_LENGTH,
  MAX_TOKEN_LENGTH,
  type PublicSigningKey,
  SESSIONLESS_CREATED_AT,
  signAccessToken,
  tokenIdentityFromEnv,
  tokenIdentityProblem,
} from "@pkiserver/contract";
import { AppError, SecretBox } from "@pkiserver/kit";
import { SignJWT } from "jose";
import { SigningKeyManager } from "./domain/signing-keys";
import { MemorySigningKeyStore } from "./storage/memory-signing-keys";
import { ManualClock, RecordingEvents } from "./testing/fixtures";

/** The longest claims a token carries: every scope, an IPv6 binding, a nine-digit generation, a 13-digit sct. */
const LONGEST_CLAIMS = {
  scope: ["user:read", "user:write", "pki:read", "pki:write", "pkiadmin:read", "pkiadmin:write", "audit:read"],
  ipAddr: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
  generation: 999_999_999,
  sessionCreatedAt: SESSIONLESS_CREATED_AT,
};

const T = 1_750_000_000_000;

function keyPair(kid: string) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pub: PublicSigningKey = {
    kid,
    publicJwk: JSON.stringify({ ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA" }),
    createdAt: T,
    verifyUntil: T + 86_400_000,
  };
  return { signer: { kid, privateKey }, pub };
}

const claims: AccessTokenClaims = {
  apiKeyId: "key-one",
  sessionId: "AAAAAAAAAAAAAAAAAAAAAA",
  generation: 3,
  scope: ["user:read", "pki:read"],
  ipAddr: "10.1.2.3",
  issuedAt: T,
  expiresAt: T + 900_000,
};

async function rejects(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (err: unknown) => err instanceof AppError && err.code === code);
}

function b64(o: unknown) {
  return Buffer.from(JSON.stringify(o)).toString("base64url");
}

describe("access token codec", () => {
  it("a signed token verifies with its public key and yields the claims it was made with", async () => {
    const { signer, pub } = keyPair("k1");
    const token = await signAccessToken(claims, signer);
    const v = createAccessTokenVerifier({ now: () => T + 1000 });
    v.setKeys([pub]);
    assert.deepEqual(await v.verify(token), claims);
    const [header, payload] = token
      .split(".")
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
    assert.equal(header.alg, "EdDSA");
    assert.equal(header.kid, "k1");
    // RFC 9068: a standard JWT library can check the token on its own.
    assert.equal(header.typ, "at+jwt");
    assert.equal(payload.iss, "http://localhost:8101");
    assert.equal(payload.aud, "pkiserver");
    assert.equal(payload.sub, "key-one");
    assert.equal(payload.client_id, "key-one");
    assert.equal(payload.scope, "user:read pki:read");
    assert.match(payload.jti, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(payload.iat, T / 1000);
    assert.equal(payload.exp, (T + 900_000) / 1000);
    assert.equal(payload.sid, claims.sessionId);
    assert.equal(payload.gen, 3);
    assert.equal(payload.ip, "10.1.2.3");
    assert.equal(payload.exp_ms, claims.expiresAt);
  });

  it("carries the session's creation time as sct; a token without it verifies without it, a malformed one is invalid", async () => {
    const { signer, pub } = keyPair("k1");
    const v = createAccessTokenVerifier({ now: () => T + 1000 });
    v.setKeys([pub]);
    const withCreation = { ...claims, sessionCreatedAt: T - 5000 };
    const token = await signAccessToken(withCreation, signer);
    assert.equal(JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()).sct, T - 5000);
    assert.deepEqual(await v.verify(token), withCreation);
    const without = await v.verify(await signAccessToken(claims, signer));
    assert.equal("sessionCreatedAt" in without, false);
    const forge = (sct: unknown) =>
      new SignJWT({
        client_id: "key-one",
        scope: "pki:read",
        sid: claims.sessionId,
        gen: 0,
        iat_ms: T,
        exp_ms: T + 60_000,
        sct,
      })
        .setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: "at+jwt" })
        .setIssuer("http://localhost:8101")
        .setAudience("pkiserver")
        .setSubject("key-one")
        .setJti("j")
        .setIssuedAt(T / 1000)
        .setExpirationTime((T + 60_000) / 1000)
        .sign(signer.privateKey);
    assert.equal((await v.verify(await forge(T - 1))).sessionCreatedAt, T - 1);
    for (const sct of [-1, 1.5, "1750000000000", null]) {
      await assert.rejects(
        v.verify(await forge(sct)),
        (e: unknown) => e instanceof AppError && e.code === "auth.token_invalid",
        String(sct),
      );
    }
  });

  it("a token from a key the verifier does not hold, or signed by another key under its kid, is invalid (76)", async () => {
    const a = keyPair("k1");
    const b = keyPair("k1");
    const token = await signAccessToken(claims, b.signer);
    const v = createAccessTokenVerifier({ now: () => T });
    v.setKeys([a.pub]);
    await rejects(v.verify(token), "auth.token_invalid");
    const other = keyPair("k2");
    await rejects(v.verify(await signAccessToken(claims, other.signer)), "auth.token_invalid");
  });

  it("a token whose segments are not canonical base64url is invalid (76), though jose would decode them", async () => {
    const { signer, pub } = keyPair("k1");
    const token = await signAccessToken(claims, signer);
    const v = createAccessTokenVerifier({ now: () => T + 1000 });
    v.setKeys([pub]);
    assert.deepEqual(await v.verify(token), claims);
    const [header, payload, sig] = token.split(".") as [string, string, string];
    const bytes = Buffer.from(sig, "base64url");
    assert.equal(bytes.length, 64);
    const lastChars = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"]
      .map((c) => `${sig.slice(0, -1)}${c}`)
      .filter((s) => s !== sig && Buffer.from(s, "base64url").equals(bytes));
    assert.equal(lastChars.length, 15);
    const mutated = [
      ...lastChars.map((s) => `${header}.${payload}.${s}`),
      `${header}.${payload}.${sig}=`,
      `${header}.${payload}.${sig}==`,
      `${header}=.${payload}.${sig}`,
      `${header}.${payload}==.${sig}`,
      `${header}.${payload}.${sig}.`,
    ];
    for (const m of mutated) await rejects(v.verify(m), "auth.token_invalid");
    assert.deepEqual(await v.verify(token), claims);
  });

  it("an expired token is 75, to the millisecond", async () => {
    const { signer, pub } = keyPair("k1");
    const token = await signAccessToken({ ...claims, expiresAt: T + 1500 }, signer);
    const at = (now: number) => {
      const v = createAccessTokenVerifier({ now: () => now });
      v.setKeys([pub]);
      return v.verify(token);
    };
    assert.equal((await at(T + 1499)).expiresAt, T + 1500);
    await rejects(at(T + 1500), "auth.token_expired");
    await rejects(at(T + 10_000), "auth.token_expired");
  });

  it("a tampered payload, a changed algorithm or garbage is invalid (76)", async () => {
    const { signer, pub } = keyPair("k1");
    const token = await signAccessToken(claims, signer);
    const v = createAccessTokenVerifier({ now: () => T });
    v.setKeys([pub]);
    const [h, , s] = token.split(".");
    const forged = `${h}.${b64({ iss: "pkiserver", sub: "key-one", sid: claims.sessionId, gen: 9, scope: ["pkiadmin:write"], iat: T / 1000, exp: T / 1000 + 900, iat_ms: T, exp_ms: T + 900_000 })}.${s}`;
    await rejects(v.verify(forged), "auth.token_invalid");
    const none = `${b64({ alg: "none", kid: "k1" })}.${token.split(".")[1]}.`;
    await rejects(v.verify(none), "auth.token_invalid");
    await rejects(v.verify("not.a.token"), "auth.token_invalid");
    await rejects(v.verify(""), "auth.token_invalid");
    await rejects(v.verify("x".repeat(MAX_TOKEN_LENGTH + 1)), "auth.token_invalid");
  });

  it("an unknown kid triggers one fetch of the keys, after which the token verifies", async () => {
    const { signer, pub } = keyPair("k-new");
    let fetches = 0;
    const v = createAccessTokenVerifier({
      now: () => T,
      fetchKeys: async () => {
        fetches++;
        return [pub];
      },
      refetchIntervalMs: 60_000,
    });
    assert.equal((await v.verify(await signAccessToken(claims, signer))).sessionId, claims.sessionId);
    await rejects(v.verify(await signAccessToken(claims, keyPair("k-other").signer)), "auth.token_invalid");
    assert.equal(fetches, 1);
  });

  it("a token of another issuer or audience, or without typ at+jwt, is invalid (76)", async () => {
    const { signer, pub } = keyPair("k1");
    const identity = { issuer: "https://pki.example.com", audience: "directory" };
    const v = createAccessTokenVerifier({ now: () => T + 1000, identity });
    v.setKeys([pub]);
    assert.deepEqual(await v.verify(await signAccessToken(claims, signer, identity)), claims);
    await rejects(v.verify(await signAccessToken(claims, signer)), "auth.token_invalid");
    await rejects(
      v.verify(await signAccessToken(claims, signer, { ...identity, issuer: "https://pki.example.org" })),
      "auth.token_invalid",
    );
    await rejects(
      v.verify(await signAccessToken(claims, signer, { ...identity, audience: "other" })),
      "auth.token_invalid",
    );
    const plainJwt = await new SignJWT({
      client_id: "key-one",
      scope: "pki:read",
      sid: claims.sessionId,
      gen: 3,
      iat_ms: T,
      exp_ms: T + 900_000,
    })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: "JWT" })
      .setIssuer(identity.issuer)
      .setAudience(identity.audience)
      .setSubject("key-one")
      .setJti("j")
      .setIssuedAt(T / 1000)
      .setExpirationTime((T + 900_000) / 1000)
      .sign(signer.privateKey);
    await rejects(v.verify(plainJwt), "auth.token_invalid");
  });

  it("the issuer defaults to http://localhost:<PMX_PORT> and the audience to pkiserver; bad values are refused", () => {
    assert.deepEqual(tokenIdentityFromEnv({}), { issuer: "http://localhost:8101", audience: "pkiserver" });
    assert.deepEqual(tokenIdentityFromEnv({ PMX_PORT: "9000" }), {
      issuer: "http://localhost:9000",
      audience: "pkiserver",
    });
    assert.deepEqual(
      tokenIdentityFromEnv({ PMX_PORT: 9000, PMX_ISSUER: "https://a.example", PMX_TOKEN_AUDIENCE: "x" }),
      {
        issuer: "https://a.example",
        audience: "x",
      },
    );
    assert.equal(tokenIdentityProblem({ issuer: "https://a.example/pki", audience: "pkiserver" }), undefined);
    assert.equal(tokenIdentityProblem({ issuer: "a.example", audience: "pkiserver" })?.field, "PMX_ISSUER");
    assert.equal(tokenIdentityProblem({ issuer: "https://a.example?x=1", audience: "pkiserver" })?.field, "PMX_ISSUER");
    assert.equal(
      tokenIdentityProblem({ issuer: `https://${"a".repeat(MAX_ISSUER_LENGTH)}`, audience: "p" })?.field,
      "PMX_ISSUER",
    );
    assert.equal(tokenIdentityProblem({ issuer: "https://a.example", audience: "p q" })?.field, "PMX_TOKEN_AUDIENCE");
  });

  it("stays within 1024 characters with the longest key id, every scope and an IPv6 binding", async () => {
    const { signer } = keyPair("x".repeat(16));
    const token = await signAccessToken(
      {
        ...claims,
        ...LONGEST_CLAIMS,
        apiKeyId: "k".repeat(128),
      },
      signer,
    );
    assert.ok(token.length <= MAX_TOKEN_LENGTH, `length ${token.length}`);
  });

  it("stays within 1024 characters with the longest issuer and audience, every scope and an IPv6 binding", async () => {
    const { signer } = keyPair("x".repeat(16));
    const identity = {
      issuer: `https://${"i".repeat(MAX_ISSUER_LENGTH - 8)}`,
      audience: "a".repeat(MAX_AUDIENCE_LENGTH),
    };
    assert.equal(tokenIdentityProblem(identity), undefined);
    const token = await signAccessToken(
      {
        ...claims,
        // The apikey service's ids: 12 random bytes, hex.
        ...LONGEST_CLAIMS,
        apiKeyId: "k".repeat(24),
      },
      signer,
      identity,
    );
    assert.ok(token.length <= MAX_TOKEN_LENGTH, `length ${token.length}`);
  });
});

describe("signing key rotation", () => {
  const ROTATION = 3_600_000;
  const MAX_ACCESS = 7_200_000;

  const box = SecretBox.ephemeral();
  function manager(clock: ManualClock, store = new MemorySigningKeyStore(), events = new RecordingEvents()) {
    // Replicas share the store and the sealing key from configuration.
    return new SigningKeyManager(store, box, clock, events, {
      rotationMs: ROTATION,
      maxAccessLifetimeMs: MAX_ACCESS,
    });
  }

  it("a token signed before a rotation keeps verifying with the old key until its verify_until", async () => {
    const clock = new ManualClock(10 * ROTATION + 1000);
    const events = new RecordingEvents();
    const keys = manager(clock, new MemorySigningKeyStore(), events);
    await keys.tick();
    const oldSigner = await keys.signer();
    const token = await signAccessToken({ ...claims, issuedAt: clock.t, expiresAt: clock.t + MAX_ACCESS }, oldSigner);
    clock.advance(ROTATION);
    await keys.tick();
    const newSigner = await keys.signer();
    assert.notEqual(newSigner.kid, oldSigner.kid);
    const published = await keys.publicKeys();
    const old = published.find((k) => k.kid === oldSigner.kid);
    assert.equal(old?.verifyUntil, 11 * ROTATION + MAX_ACCESS);
    const v = createAccessTokenVerifier({ now: clock.now });
    v.setKeys(published);
    assert.equal((await v.verify(token)).sessionId, claims.sessionId);
    assert.ok(events.log.some((e) => e.type === "signingKey" && e.key.kid === newSigner.kid));
    clock.t = 11 * ROTATION + MAX_ACCESS;
    assert.ok(!(await keys.publicKeys()).some((k) => k.kid === oldSigner.kid));
  });

  it("replicas sharing a store sign with the same key for a period, and only one announces it", async () => {
    const clock = new ManualClock(5 * ROTATION + 10);
    const store = new MemorySigningKeyStore();
    const events = new RecordingEvents();
    const a = manager(clock, store, events);
    const b = manager(clock, store, events);
    const [ka, kb] = await Promise.all([a.signer(), b.signer()]);
    assert.equal(ka.kid, kb.kid);
    assert.equal(events.log.filter((e) => e.type === "signingKey").length, 1);
    const token = await signAccessToken(claims, kb);
    const v = createAccessTokenVerifier({ now: () => T });
    v.setKeys(await a.publicKeys());
    assert.equal((await v.verify(token)).apiKeyId, "key-one");
  });

  it("the next period's key is published before it starts signing", async () => {
    const clock = new ManualClock(6 * ROTATION - 60_000);
    const keys = manager(clock);
    await keys.tick();
    const listed = await keys.publicKeys();
    assert.equal(listed.length, 2);
    const current = await keys.signer();
    clock.t = 6 * ROTATION;
    const next = await keys.signer();
    assert.notEqual(next.kid, current.kid);
    assert.ok(listed.some((k) => k.kid === next.kid));
  });
});
