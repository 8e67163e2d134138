import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject, randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { createJwksTokenVerifier, signAccessToken } from "@pkiserver/contract";
import { AppError, createLogger, Events, MemoryEventBus, publishEvent, startSigningKeySync } from "@pkiserver/kit";
import type { authV1 } from "@pkiserver/proto";
import { SignJWT } from "jose";

/** Signs access tokens as auth does (compact EdDSA JWS naming its key by kid), with a key of its own. */
class TokenSigner {
  private constructor(
    readonly kid: string,
    private readonly privateKey: KeyObject,
    private readonly publicJwk: string,
  ) {}

  static async create(): Promise<TokenSigner> {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    return new TokenSigner(`kid-${randomUUID()}`, privateKey, JSON.stringify(publicKey.export({ format: "jwk" })));
  }

  async signingKey(): Promise<authV1.SigningKey> {
    return { kid: this.kid, publicJwk: this.publicJwk, createdAt: Date.now(), verifyUntil: 0 };
  }

  mint(opts: {
    apiKeyId: string;
    sessionId: string;
    generation: number;
    scope: string[];
    ipAddr?: string;
    issuedAtMs?: number;
    expiresInS?: number;
  }): Promise<string> {
    const issuedAt = opts.issuedAtMs ?? Date.now();
    return signAccessToken(
      {
        apiKeyId: opts.apiKeyId,
        sessionId: opts.sessionId,
        generation: opts.generation,
        scope: opts.scope,
        ...(opts.ipAddr !== undefined ? { ipAddr: opts.ipAddr } : {}),
        issuedAt,
        expiresAt: issuedAt + (opts.expiresInS ?? 900) * 1000,
      },
      { kid: this.kid, privateKey: this.privateKey },
    );
  }
}

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (err) {
    assert.ok(err instanceof AppError);
    return err.code;
  }
};

const base = { apiKeyId: "k1", sessionId: "s1", generation: 2, scope: ["pki:read"] };

describe("access-token verifier", () => {
  it("remembers a verified token until its expiry: past it the token is refused with 75 without a new check", async () => {
    const signer = await TokenSigner.create();
    let now = Date.now();
    const v = createJwksTokenVerifier({ now: () => now });
    v.setKeys([await signer.signingKey()]);
    const token = await signer.mint({ ...base, issuedAtMs: now, expiresInS: 60 });
    const first = await v.verify(token);
    assert.deepEqual(await v.verify(token), first, "a second use gives the same claims");
    now += 61_000;
    assert.equal(await codeOf(v.verify(token)), "auth.token_expired");
  });

  it("forgets remembered tokens when the keys change, so a withdrawn key verifies nothing more", async () => {
    const signer = await TokenSigner.create();
    const v = createJwksTokenVerifier();
    v.setKeys([await signer.signingKey()]);
    const token = await signer.mint(base);
    await v.verify(token);
    v.setKeys([await (await TokenSigner.create()).signingKey()]);
    assert.equal(await codeOf(v.verify(token)), "auth.token_invalid");
  });

  it("remembers at most cacheSize tokens and still verifies the ones it let go", async () => {
    const signer = await TokenSigner.create();
    const v = createJwksTokenVerifier({ cacheSize: 2 });
    v.setKeys([await signer.signingKey()]);
    const tokens = await Promise.all([1, 2, 3].map((g) => signer.mint({ ...base, generation: g })));
    for (const t of tokens) await v.verify(t);
    for (const t of tokens) assert.equal((await v.verify(t)).apiKeyId, "k1");
  });

  it("returns the claims of a token signed by a known key, with ms times", async () => {
    const signer = await TokenSigner.create();
    const v = createJwksTokenVerifier();
    v.setKeys([await signer.signingKey()]);
    const issuedAtMs = Date.now() - 1234;
    const claims = await v.verify(await signer.mint({ ...base, ipAddr: "10.0.0.1", issuedAtMs, expiresInS: 60 }));
    assert.deepEqual(claims, {
      ...base,
      ipAddr: "10.0.0.1",
      issuedAt: issuedAtMs,
      expiresAt: issuedAtMs + 60_000,
    });
  });

  it("refuses with 75 a token past its expiry and with 76 anything that does not verify", async () => {
    const signer = await TokenSigner.create();
    const v = createJwksTokenVerifier();
    v.setKeys([await signer.signingKey()]);
    const old = await signer.mint({ ...base, issuedAtMs: Date.now() - 120_000, expiresInS: 60 });
    assert.equal(await codeOf(v.verify(old)), "auth.token_expired");
    const other = await (await TokenSigner.create()).mint(base);
    assert.equal(await codeOf(v.verify(other)), "auth.token_invalid");
    assert.equal(await codeOf(v.verify("a.b.c")), "auth.token_invalid");
    assert.equal(await codeOf(v.verify("x".repeat(2000))), "auth.token_invalid");
    const good = await signer.mint(base);
    const [h, p, s] = good.split(".");
    assert.equal(await codeOf(v.verify(`${h}.${p}x.${s}`)), "auth.token_invalid");
  });

  it("refuses a token from another issuer or without the session claims", async () => {
    const signer = await TokenSigner.create();
    const v = createJwksTokenVerifier();
    const key = await signer.signingKey();
    v.setKeys([key]);
    const { privateKey } = signer as unknown as { privateKey: Parameters<SignJWT["sign"]>[0] };
    const forged = await new SignJWT({ sid: "s", gen: 1, scope: [] })
      .setProtectedHeader({ alg: "EdDSA", kid: key.kid })
      .setIssuer("elsewhere")
      .setSubject("k")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    assert.equal(await codeOf(v.verify(forged)), "auth.token_invalid");
    const noSession = await new SignJWT({ gen: 1, scope: [] })
      .setProtectedHeader({ alg: "EdDSA", kid: key.kid })
      .setIssuer("pkiserver")
      .setSubject("k")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    assert.equal(await codeOf(v.verify(noSession)), "auth.token_invalid");
  });

  it("drops keys past their verifyUntil", async () => {
    const signer = await TokenSigner.create();
    const v = createJwksTokenVerifier();
    v.setKeys([{ ...(await signer.signingKey()), verifyUntil: Date.now() - 1 }]);
    assert.equal(await codeOf(v.verify(await signer.mint(base))), "auth.token_invalid");
  });

  it("fetches keys for an unknown kid, at most once per interval", async () => {
    const signer = await TokenSigner.create();
    let fetches = 0;
    const v = createJwksTokenVerifier({
      fetchKeys: async () => {
        fetches++;
        return [await signer.signingKey()];
      },
    });
    assert.ok(await v.verify(await signer.mint(base)));
    const stranger = await (await TokenSigner.create()).mint(base);
    assert.equal(await codeOf(v.verify(stranger)), "auth.token_invalid");
    assert.equal(await codeOf(v.verify(stranger)), "auth.token_invalid");
    // The first verify fetched; the stranger's kid, seen within the interval, does not fetch again.
    assert.equal(fetches, 1);
  });

  it("takes auth's keys at start and again when a rotation is announced", async () => {
    let signer = await TokenSigner.create();
    const bus = new MemoryEventBus();
    const auth = {
      getSigningKeys: async (): Promise<authV1.GetSigningKeysResponse> => ({ keys: [await signer.signingKey()] }),
    } as unknown as Parameters<typeof startSigningKeySync>[0]["auth"];
    const v = createJwksTokenVerifier();
    const sync = startSigningKeySync({ auth, bus, verifier: v, logger: createLogger({ name: "t", level: "silent" }) });
    try {
      await sync.loaded;
      assert.equal(sync.isLoaded(), true);
      assert.ok(await v.verify(await signer.mint(base)));
      signer = await TokenSigner.create();
      await publishEvent(bus, Events.signingKeyRotated, { kid: signer.kid, publicJwk: "{}", at: Date.now() });
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(await v.verify(await signer.mint(base)));
    } finally {
      await sync.stop();
      await bus.close();
    }
  });
});
