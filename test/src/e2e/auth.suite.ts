import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ed25519Sign, grantSigningPayload, hmacSignature } from "@pkiserver/kit";
import { basic, bearer, call, errCode, ok, post, rpcBody, signed, WsClient } from "../support/client";
import { type Form, startForm, type TestSystem } from "../support/forms";
import { ed25519Pair } from "../support/keys";
import { pollUntil } from "../support/wait";

export interface TokenResult {
  accessToken: string;
  accessTokenExpiresIn: number;
  refreshToken: string;
  refreshTokenExpiresIn: number;
  tokenType: string;
  scope: string[];
  sessionName?: string;
}

interface ApiKeyView {
  apiKeyId: string;
  name: string;
  enabled: boolean;
  maxScope: string[];
  clientPublicKey?: string;
  createDate: number;
  previousCredentialExpiresAt?: number;
}

interface RotateResult {
  apiKeyId: string;
  previousCredentialExpiresAt: number;
  clientSecret?: string;
}

/** Polls `probe` until it holds; fails after `ms`. For effects that travel over the event bus. */
const until = (what: string, probe: () => Promise<boolean>, ms = 20_000) => pollUntil(what, probe, ms, 50);

/**
 * The other spellings of a base64 or base64url string that a lenient decoder
 * reads as the same bytes: another last character (its unused low bits set),
 * padding left out or appended.
 */
function otherSpellings(canonical: string, alphabet: "base64" | "base64url"): string[] {
  const chars = `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${alphabet === "base64" ? "+/" : "-_"}`;
  const data = canonical.replace(/=+$/, "");
  const padding = canonical.slice(data.length);
  const bytes = Buffer.from(canonical, alphabet);
  const out = [...chars]
    .map((c) => `${data.slice(0, -1)}${c}${padding}`)
    .filter((t) => t !== canonical && Buffer.from(t, alphabet).equals(bytes));
  if (padding !== "") out.push(data);
  out.push(`${canonical}=`, `${canonical}==`);
  return out;
}

/** Every secret and token a suite used, so the log check can look for each. */
export const usedSecrets = new Set<string>();

export async function tokenFor(url: string, clientId: string, clientSecret: string, scope: string[] = []) {
  const t = await ok<TokenResult>(url, "auth/token", {
    grantType: "client_credentials",
    clientId,
    clientSecret,
    scope,
  });
  usedSecrets.add(t.accessToken);
  usedSecrets.add(t.refreshToken);
  return t;
}

function newSecret(): string {
  const s = randomBytes(24).toString("base64url");
  usedSecrets.add(s);
  return s;
}

/**
 * Creates the first key of a fresh system the way an operator does; two
 * concurrent calls race and exactly one may win.
 */
export async function bootstrap(sys: TestSystem): Promise<{ apiKeyId: string; apiKeySecret: string }> {
  const wrong = await errCode(sys.url, "auth/createFirstApiKey", { initializationToken: "wrong-token", name: "x" });
  assert.equal(wrong.code, 97);
  const attempts = await Promise.all(
    [1, 2].map(() => call(sys.url, "auth/createFirstApiKey", { initializationToken: sys.initToken, name: "first" })),
  );
  const winners = attempts.filter((a) => a.result);
  const losers = attempts.filter((a) => a.error);
  assert.equal(winners.length, 1, `exactly one concurrent createFirstApiKey wins: ${JSON.stringify(attempts)}`);
  assert.equal(losers[0]?.error?.code, 96);
  const key = winners[0]?.result as { apiKeyId: string; apiKeySecret: string };
  usedSecrets.add(key.apiKeySecret);
  return key;
}

/** A bootstrapped system: its first key and a token of it with every scope. */
export interface Ctx {
  sys: TestSystem;
  firstKey: { apiKeyId: string; apiKeySecret: string };
  admin: TokenResult;
}

export async function prepare(sys: TestSystem): Promise<Ctx> {
  const firstKey = await bootstrap(sys);
  const admin = await tokenFor(sys.url, firstKey.apiKeyId, firstKey.apiKeySecret);
  return { sys, firstKey, admin };
}

/**
 * Describes `title` against a system of `form` (started with `env`), prepared
 * with its first key and an admin token before `body`'s tests and stopped
 * after them.
 */
export function describeOnForm(
  title: string,
  form: Form,
  body: (ctx: () => Ctx) => void,
  env: Record<string, string> = {},
): void {
  describe(title, () => {
    let ctx: Ctx;
    before(async () => {
      ctx = await prepare(await startForm(form, env));
    });
    after(() => ctx.sys.stop());
    body(() => ctx);
  });
}

/** API.md sections 3-6 for auth/ and user/. */
export function authSuite(ctx: () => Ctx): void {
  const url = () => ctx().sys.url;
  const sys = () => ctx().sys;
  // Token tests open many sessions; they use a key of their own so the first
  // key's session stays among its 16 live ones.
  let first: { apiKeyId: string; apiKeySecret: string };
  let admin: TokenResult;

  before(async () => {
    admin = ctx().admin;
    const k = await addSecretKey(["user:read_write", "pki:read_write", "pkiadmin:read_write"], "main");
    first = { apiKeyId: k.apiKeyId, apiKeySecret: k.clientSecret };
  });

  /** Adds a secret key with the given scopes, returning id and secret. */
  async function addSecretKey(maxScope: string[], name = "k") {
    const clientSecret = newSecret();
    const { apiKeyId } = await ok<{ apiKeyId: string }>(
      url(),
      "user/addApiKey",
      { type: "secret", name, clientSecret, maxScope },
      bearer(admin.accessToken),
    );
    return { apiKeyId, clientSecret };
  }

  /** Adds an Ed25519 key with the given scopes, returning its id and key pair. */
  async function addEd25519Key(maxScope: string[]) {
    const pair = ed25519Pair();
    const { apiKeyId } = await ok<{ apiKeyId: string }>(
      url(),
      "user/addApiKey",
      { type: "pubKey", name: "ed", clientPubKey: pair.publicKeyPem, maxScope },
      bearer(admin.accessToken),
    );
    return { apiKeyId, pair };
  }

  describe("auth/createFirstApiKey", () => {
    it("refuses once a key exists (96), even with the right token", async () => {
      const e = await errCode(url(), "auth/createFirstApiKey", { initializationToken: sys().initToken, name: "again" });
      assert.equal(e.code, 96);
    });
  });

  describe("auth/token", () => {
    it("client_credentials returns the documented shape with the key's whole maxScope expanded", async () => {
      const t = await tokenFor(url(), first.apiKeyId, first.apiKeySecret);
      assert.equal(t.tokenType, "Bearer");
      assert.equal(t.accessTokenExpiresIn, 900000);
      assert.equal(t.refreshTokenExpiresIn, 604800000);
      assert.ok(t.accessToken.length <= 1024 && t.refreshToken.length <= 1024);
      for (const s of ["user:read", "user:write", "pki:read", "pkiadmin:read", "pkiadmin:write"]) {
        assert.ok(t.scope.includes(s), s);
      }
    });

    it("expands read_write and leaves modifiers out of the granted scope", async () => {
      const t = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, [
        "user:read_write",
        "session:expand",
        "expiresIn:60000",
      ]);
      assert.deepEqual([...t.scope].sort(), ["user:read", "user:write"]);
      assert.equal(t.sessionName, "expand");
      assert.equal(t.accessTokenExpiresIn, 60000);
    });

    it("refuses an unknown clientId (71), a wrong secret (12), a wider scope (73), unknown scopes (-32602)", async () => {
      const unknown = await errCode(url(), "auth/token", {
        grantType: "client_credentials",
        clientId: "no-such-key-id",
        clientSecret: "x".repeat(40),
        scope: [],
      });
      assert.equal(unknown.code, 71);
      const wrong = await errCode(url(), "auth/token", {
        grantType: "client_credentials",
        clientId: first.apiKeyId,
        clientSecret: "y".repeat(40),
        scope: [],
      });
      assert.equal(wrong.code, 12);
      const narrow = await addSecretKey(["pki:read"]);
      const wider = await errCode(url(), "auth/token", {
        grantType: "client_credentials",
        clientId: narrow.apiKeyId,
        clientSecret: narrow.clientSecret,
        scope: ["pkiadmin:write"],
      });
      assert.equal(wider.code, 73);
      const bogus = await errCode(url(), "auth/token", {
        grantType: "client_credentials",
        clientId: first.apiKeyId,
        clientSecret: first.apiKeySecret,
        scope: ["solution:*"],
      });
      assert.equal(bogus.code, -32602);
      await ok(url(), "user/deleteApiKey", { apiKeyId: narrow.apiKeyId }, bearer(admin.accessToken));
    });

    it("client_signature works with HMAC and Ed25519 keys and refuses bad, stale or replayed signatures", async () => {
      const hmacKey = await addSecretKey(["pki:read"]);
      const ts = Date.now();
      const sig = hmacSignature(hmacKey.clientSecret, grantSigningPayload(ts, "n-1", "hello"));
      const grant = {
        grantType: "client_signature",
        clientId: hmacKey.apiKeyId,
        timestamp: ts,
        nonce: "n-1",
        data: "hello",
        scope: [],
      };
      const t = await ok<TokenResult>(url(), "auth/token", { ...grant, signature: sig });
      assert.deepEqual(t.scope, ["pki:read"]);
      assert.equal((await errCode(url(), "auth/token", { ...grant, signature: sig })).code, 12, "replayed nonce");
      const tampered = await errCode(url(), "auth/token", { ...grant, nonce: "n-2", signature: sig });
      assert.equal(tampered.code, 12, "signature over other data");
      const oldTs = Date.now() - 11 * 60_000;
      const stale = hmacSignature(hmacKey.clientSecret, grantSigningPayload(oldTs, "n-3", undefined));
      const staleErr = await errCode(url(), "auth/token", {
        grantType: "client_signature",
        clientId: hmacKey.apiKeyId,
        timestamp: oldTs,
        nonce: "n-3",
        signature: stale,
        scope: [],
      });
      assert.equal(staleErr.code, 12, "stale timestamp");
      const unknown = await errCode(url(), "auth/token", {
        ...grant,
        clientId: "no-such-key",
        nonce: "n-4",
        signature: sig,
      });
      assert.equal(unknown.code, 71);

      const { apiKeyId, pair } = await addEd25519Key(["pki:read"]);
      const ts2 = Date.now();
      const edSig = ed25519Sign(pair.privateKeyPem, grantSigningPayload(ts2, "e-1", undefined));
      const edTok = await ok<TokenResult>(url(), "auth/token", {
        grantType: "client_signature",
        clientId: apiKeyId,
        timestamp: ts2,
        nonce: "e-1",
        signature: edSig,
        scope: ["pki:read"],
      });
      assert.deepEqual(edTok.scope, ["pki:read"]);
      // A public-key key has no secret: client_credentials is refused.
      const cc = await errCode(url(), "auth/token", {
        grantType: "client_credentials",
        clientId: apiKeyId,
        clientSecret: "z".repeat(40),
        scope: [],
      });
      assert.equal(cc.code, 12);
      for (const id of [hmacKey.apiKeyId, apiKeyId]) {
        await ok(url(), "user/deleteApiKey", { apiKeyId: id }, bearer(admin.accessToken));
      }
    });

    it("client_signature refuses a nonce outside the base64 alphabets (-32602), so a signature cannot be replayed under another nonce", async () => {
      const key = await addSecretKey(["pki:read"]);
      const ts = Date.now();
      const sig = hmacSignature(key.clientSecret, grantSigningPayload(ts, "r1", "x;\n\ny"));
      const grant = { grantType: "client_signature", clientId: key.apiKeyId, timestamp: ts, signature: sig, scope: [] };
      usedSecrets.add(
        (await ok<TokenResult>(url(), "auth/token", { ...grant, nonce: "r1", data: "x;\n\ny" })).accessToken,
      );
      // The signed bytes read the same as nonce `r1;\n\nx` with data `y`: a fresh nonce for the replay cache.
      const replay = await errCode(url(), "auth/token", { ...grant, nonce: "r1;\n\nx", data: "y" });
      assert.equal(replay.code, -32602);
      assert.equal(replay.data, "nonce -> Invalid characters! Expected only A-Z a-z 0-9 + / = _ -");
      for (const nonce of ["", "a.b", "a b", "é"]) {
        const signature = hmacSignature(key.clientSecret, grantSigningPayload(ts, nonce, undefined));
        const e = await errCode(url(), "auth/token", { ...grant, nonce, signature });
        assert.equal(e.code, -32602, JSON.stringify(nonce));
      }
      await ok(url(), "user/deleteApiKey", { apiKeyId: key.apiKeyId }, bearer(admin.accessToken));
    });

    it("client_signature refuses every non-canonical spelling of a valid signature (12), HMAC and Ed25519", async () => {
      const hmacKey = await addSecretKey(["pki:read"]);
      const { apiKeyId: edKeyId, pair } = await addEd25519Key(["pki:read"]);
      const ts = Date.now();
      const cases = [
        {
          clientId: hmacKey.apiKeyId,
          nonce: "c-h",
          sign: (p: Buffer) => hmacSignature(hmacKey.clientSecret, p),
          twins: 3,
        },
        { clientId: edKeyId, nonce: "c-e", sign: (p: Buffer) => ed25519Sign(pair.privateKeyPem, p), twins: 15 },
      ];
      for (const c of cases) {
        const signature = c.sign(grantSigningPayload(ts, c.nonce, "d"));
        const grant = {
          grantType: "client_signature",
          clientId: c.clientId,
          timestamp: ts,
          nonce: c.nonce,
          data: "d",
          scope: [],
        };
        const spellings = otherSpellings(signature, "base64");
        assert.equal(spellings.length, c.twins + 3);
        for (const other of spellings) {
          assert.equal((await errCode(url(), "auth/token", { ...grant, signature: other })).code, 12, other);
        }
        // Refused spellings spent no nonce: the canonical one still works.
        usedSecrets.add((await ok<TokenResult>(url(), "auth/token", { ...grant, signature })).accessToken);
      }
      for (const id of [hmacKey.apiKeyId, edKeyId]) {
        await ok(url(), "user/deleteApiKey", { apiKeyId: id }, bearer(admin.accessToken));
      }
    });

    it("refresh rotates: the old pair stops at once, the new one works, and reuse revokes the session (75)", async () => {
      const t1 = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["user:read"]);
      const t2 = await ok<TokenResult>(url(), "auth/token", {
        grantType: "refresh_token",
        refreshToken: t1.refreshToken,
      });
      usedSecrets.add(t2.accessToken);
      usedSecrets.add(t2.refreshToken);
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(t1.accessToken))).code, 75, "old access token");
      await ok(url(), "user/listApiKeys", {}, bearer(t2.accessToken));
      const reuse = await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: t1.refreshToken });
      assert.equal(reuse.code, 75);
      // The theft response revokes the whole session, including the newest pair.
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(t2.accessToken))).code, 75);
      const after = await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: t2.refreshToken });
      assert.equal(after.code, 75);
      const garbage = await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: "garbage" });
      assert.equal(garbage.code, 76);
    });

    it("closes the oldest of 16 live sessions when a 17th opens", async () => {
      const key = await addSecretKey(["user:read"]);
      const sessions: TokenResult[] = [];
      for (let i = 0; i < 17; i++) sessions.push(await tokenFor(url(), key.apiKeyId, key.clientSecret));
      const oldest = sessions[0] as TokenResult;
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(oldest.accessToken))).code, 75);
      assert.equal(
        (await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: oldest.refreshToken })).code,
        75,
      );
      await ok(url(), "user/listApiKeys", {}, bearer((sessions[1] as TokenResult).accessToken));
      await ok(url(), "user/listApiKeys", {}, bearer((sessions[16] as TokenResult).accessToken));
      await ok(url(), "user/deleteApiKey", { apiKeyId: key.apiKeyId }, bearer(admin.accessToken));
    });

    it("a named session replaces the earlier session of the same name", async () => {
      const a = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["user:read", "session:ci"]);
      const b = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["user:read", "session:ci"]);
      assert.equal(b.sessionName, "ci");
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(a.accessToken))).code, 75);
      await ok(url(), "user/listApiKeys", {}, bearer(b.accessToken));
    });

    it("an ipAddr: token works from that address only", async () => {
      const here = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["user:read", "ipAddr:127.0.0.1"]);
      await ok(url(), "user/listApiKeys", {}, bearer(here.accessToken));
      const elsewhere = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["user:read", "ipAddr:2001:db8::1"]);
      // A token presented from another address is not a valid token there (76).
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(elsewhere.accessToken))).code, 76);
      assert.equal(
        (await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: elsewhere.refreshToken })).code,
        76,
        "nor can it be refreshed from here",
      );
    });
  });

  describe("auth/forkToken", () => {
    it("opens a new named session with the source's scope and leaves the source working", async () => {
      const src = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["pki:read"]);
      const fork = await ok<TokenResult>(url(), "auth/forkToken", {
        refreshToken: src.refreshToken,
        sessionName: "forked",
      });
      usedSecrets.add(fork.accessToken);
      usedSecrets.add(fork.refreshToken);
      assert.deepEqual(fork.scope, ["pki:read"]);
      assert.equal(fork.sessionName, "forked");
      assert.notEqual(fork.refreshToken, src.refreshToken);
      await ok(
        url(),
        "pki/getKeyHistory",
        { userId: "usr", instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH", contextId: "ctx" },
        bearer(src.accessToken),
      );
      await ok(
        url(),
        "pki/getKeyHistory",
        { userId: "usr", instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH", contextId: "ctx" },
        bearer(fork.accessToken),
      );
      const refreshed = await ok<TokenResult>(url(), "auth/token", {
        grantType: "refresh_token",
        refreshToken: src.refreshToken,
      });
      usedSecrets.add(refreshed.refreshToken);
      assert.equal((await errCode(url(), "auth/forkToken", { refreshToken: "garbage", sessionName: "x" })).code, 76);
      assert.equal(
        (await errCode(url(), "auth/forkToken", { refreshToken: src.refreshToken, sessionName: "again" })).code,
        75,
        "a rotated refresh token cannot fork",
      );
    });
  });

  describe("auth/forkToken naming", () => {
    it("refuses the source session's own name (-32602), leaving the source working", async () => {
      const src = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["user:read", "session:fork-src"]);
      const same = await errCode(url(), "auth/forkToken", { refreshToken: src.refreshToken, sessionName: "fork-src" });
      assert.equal(same.code, -32602);
      await ok(url(), "user/listApiKeys", {}, bearer(src.accessToken));
    });
  });

  describe("refresh-token families", () => {
    /** A token's access token is refused (75) and its refresh token neither refreshes nor forks (75). */
    async function assertDead(t: { accessToken: string; refreshToken: string }, what: string) {
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(t.accessToken))).code, 75, `${what}: access`);
      const refresh = await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: t.refreshToken });
      assert.equal(refresh.code, 75, `${what}: refresh`);
    }

    function remember<T extends { accessToken: string; refreshToken: string }>(t: T): T {
      usedSecrets.add(t.accessToken);
      usedSecrets.add(t.refreshToken);
      return t;
    }

    it("reuse of the source's rotated refresh token revokes the source, its forks and forks of forks (75)", async () => {
      const key = await addSecretKey(["user:read"]);
      const src = await tokenFor(url(), key.apiKeyId, key.clientSecret);
      const fork = remember(
        await ok<TokenResult>(url(), "auth/forkToken", { refreshToken: src.refreshToken, sessionName: "fork" }),
      );
      const forkOfFork = remember(
        await ok<TokenResult>(url(), "auth/forkToken", { refreshToken: fork.refreshToken, sessionName: "fork2" }),
      );
      const rotated = remember(
        await ok<TokenResult>(url(), "auth/token", { grantType: "refresh_token", refreshToken: src.refreshToken }),
      );
      for (const t of [rotated, fork, forkOfFork]) await ok(url(), "user/listApiKeys", {}, bearer(t.accessToken));
      const reuse = await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: src.refreshToken });
      assert.equal(reuse.code, 75);
      await assertDead(rotated, "source");
      await assertDead(fork, "fork");
      await assertDead(forkOfFork, "fork of fork");
      await ok(url(), "user/deleteApiKey", { apiKeyId: key.apiKeyId }, bearer(admin.accessToken));
    });

    it("reuse of a fork's rotated refresh token revokes the source it was forked from", async () => {
      const key = await addSecretKey(["user:read"]);
      const src = await tokenFor(url(), key.apiKeyId, key.clientSecret);
      const fork = remember(
        await ok<TokenResult>(url(), "auth/forkToken", { refreshToken: src.refreshToken, sessionName: "" }),
      );
      remember(
        await ok<TokenResult>(url(), "auth/token", { grantType: "refresh_token", refreshToken: fork.refreshToken }),
      );
      const reuse = await errCode(url(), "auth/forkToken", { refreshToken: fork.refreshToken, sessionName: "again" });
      assert.equal(reuse.code, 75);
      await assertDead(src, "source");
      await ok(url(), "user/deleteApiKey", { apiKeyId: key.apiKeyId }, bearer(admin.accessToken));
    });

    it("concurrent refreshes and forks of one token: once reuse is seen, no session of the family survives", async () => {
      const key = await addSecretKey(["user:read"]);
      const src = await tokenFor(url(), key.apiKeyId, key.clientSecret);
      const attempts = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2 === 0
            ? call(url(), "auth/token", { grantType: "refresh_token", refreshToken: src.refreshToken })
            : call(url(), "auth/forkToken", { refreshToken: src.refreshToken, sessionName: `f${i}` }),
        ),
      );
      const granted = attempts.flatMap((a) => (a.result ? [remember(a.result as TokenResult)] : []));
      for (const a of attempts) if (a.error) assert.equal(a.error.code, 75, JSON.stringify(a.error));
      // At most one refresh may win; the other refreshes are reuse.
      assert.ok(
        attempts.some((a) => a.error),
        "some refresh was detected as reuse",
      );
      await assertDead(src, "source");
      for (const [i, t] of granted.entries()) await assertDead(t, `granted pair ${i}`);
      await ok(url(), "user/deleteApiKey", { apiKeyId: key.apiKeyId }, bearer(admin.accessToken));
    });

    it("reuse is detected however many rotations ago the token was spent", async () => {
      const key = await addSecretKey(["user:read"]);
      const first = await tokenFor(url(), key.apiKeyId, key.clientSecret);
      let current: TokenResult = first;
      for (let i = 0; i < 120; i++) {
        current = remember(
          await ok<TokenResult>(url(), "auth/token", {
            grantType: "refresh_token",
            refreshToken: current.refreshToken,
          }),
        );
      }
      await ok(url(), "user/listApiKeys", {}, bearer(current.accessToken));
      const reuse = await errCode(url(), "auth/token", {
        grantType: "refresh_token",
        refreshToken: first.refreshToken,
      });
      assert.equal(reuse.code, 75);
      await assertDead(current, "current pair");
      await ok(url(), "user/deleteApiKey", { apiKeyId: key.apiKeyId }, bearer(admin.accessToken));
    });
  });

  describe("credential schemes", () => {
    it("accepts Bearer and X-User-Token access tokens, refuses none (14) and garbage (76)", async () => {
      await ok(url(), "user/listApiKeys", {}, bearer(admin.accessToken));
      await ok(url(), "user/listApiKeys", {}, { "x-user-token": admin.accessToken });
      assert.equal((await errCode(url(), "user/listApiKeys", {})).code, 14);
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer("not.a.token"))).code, 76);
      const parts = admin.accessToken.split(".");
      const forged = `${parts[0]}.${parts[1]}.${Buffer.from("forged-signature-bytes-0123456789abcdef0123456789ab").toString("base64url")}`;
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(forged))).code, 76);
    });

    it("refuses an access token whose signature is not canonical base64url (76)", async () => {
      const [header, payload, sig] = admin.accessToken.split(".") as [string, string, string];
      const spellings = otherSpellings(sig, "base64url");
      assert.equal(spellings.length, 15 + 2);
      for (const other of spellings) {
        const e = await errCode(url(), "user/listApiKeys", {}, bearer(`${header}.${payload}.${other}`));
        assert.equal(e.code, 76, other);
      }
      await ok(url(), "user/listApiKeys", {}, bearer(admin.accessToken));
    });

    it("accepts Basic credentials of a secret key and refuses bad ones and public-key keys (14)", async () => {
      const k = await addSecretKey(["user:read"]);
      const list = await ok<{ list: ApiKeyView[] }>(url(), "user/listApiKeys", {}, basic(k.apiKeyId, k.clientSecret));
      assert.ok(list.list.some((x) => x.apiKeyId === k.apiKeyId));
      assert.equal((await errCode(url(), "user/listApiKeys", {}, basic(k.apiKeyId, "w".repeat(40)))).code, 14);
      // Basic gives the key's maxScope: user:write is not in it.
      const denied = await errCode(
        url(),
        "user/deleteApiKey",
        { apiKeyId: k.apiKeyId },
        basic(k.apiKeyId, k.clientSecret),
      );
      assert.equal(denied.code, 73);
      const { apiKeyId } = await addEd25519Key(["user:read"]);
      assert.equal((await errCode(url(), "user/listApiKeys", {}, basic(apiKeyId, "q".repeat(40)))).code, 14);
      for (const id of [k.apiKeyId, apiKeyId])
        await ok(url(), "user/deleteApiKey", { apiKeyId: id }, bearer(admin.accessToken));
    });

    it("accepts signed requests (HMAC and Ed25519) and refuses tampered, replayed and stale ones (14)", async () => {
      const k = await addSecretKey(["user:read"]);
      const body = rpcBody("user/listApiKeys", {});
      const h = signed(k.apiKeyId, { secret: k.clientSecret }, body);
      const okReply = await post(url(), body, h);
      assert.ok((okReply.json as { result?: unknown }).result, okReply.text);
      const replay = await post(url(), body, h);
      assert.equal((replay.json as { error?: { code: number } }).error?.code, 14, "replayed nonce");
      const tamperedBody = body.replace(/"id":\d+/, '"id":999999');
      assert.notEqual(tamperedBody, body);
      const tampered = await post(url(), tamperedBody, signed(k.apiKeyId, { secret: k.clientSecret }, body));
      assert.equal((tampered.json as { error?: { code: number } }).error?.code, 14, "body differs from the signed one");
      const stale = await post(
        url(),
        body,
        signed(k.apiKeyId, { secret: k.clientSecret }, body, { timestamp: Date.now() - 11 * 60_000 }),
      );
      assert.equal((stale.json as { error?: { code: number } }).error?.code, 14, "stale timestamp");
      const wrongKey = await post(url(), body, signed(k.apiKeyId, { secret: "v".repeat(40) }, body));
      assert.equal((wrongKey.json as { error?: { code: number } }).error?.code, 14);

      const { apiKeyId, pair } = await addEd25519Key(["user:read"]);
      const edOk = await post(url(), body, signed(apiKeyId, { privateKeyPem: pair.privateKeyPem }, body));
      assert.ok((edOk.json as { result?: unknown }).result, edOk.text);
      for (const id of [k.apiKeyId, apiKeyId])
        await ok(url(), "user/deleteApiKey", { apiKeyId: id }, bearer(admin.accessToken));
    });

    it("refuses a signed request whose nonce is outside the base64 alphabets (14), however well signed", async () => {
      const k = await addSecretKey(["user:read"]);
      const body = rpcBody("user/listApiKeys", {});
      for (const nonce of ["a.b", "a b", "a,b", "é", "a".repeat(65)]) {
        const reply = await post(url(), body, signed(k.apiKeyId, { secret: k.clientSecret }, body, { nonce }));
        assert.equal((reply.json as { error?: { code: number } }).error?.code, 14, JSON.stringify(nonce));
      }
      const fine = await post(
        url(),
        body,
        signed(k.apiKeyId, { secret: k.clientSecret }, body, { nonce: "a-b_c+d/e=" }),
      );
      assert.ok((fine.json as { result?: unknown }).result, fine.text);
      await ok(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken));
    });

    it("refuses every non-canonical spelling of a valid request signature (14), HMAC and Ed25519", async () => {
      const k = await addSecretKey(["user:read"]);
      const { apiKeyId: edKeyId, pair } = await addEd25519Key(["user:read"]);
      const body = rpcBody("user/listApiKeys", {});
      const cases = [
        { keyId: k.apiKeyId, credential: { secret: k.clientSecret }, twins: 3 },
        { keyId: edKeyId, credential: { privateKeyPem: pair.privateKeyPem }, twins: 15 },
      ];
      for (const c of cases) {
        const header = signed(c.keyId, c.credential, body).authorization as string;
        const cut = header.lastIndexOf(";") + 1;
        const spellings = otherSpellings(header.slice(cut), "base64");
        assert.equal(spellings.length, c.twins + 3);
        for (const other of spellings) {
          const reply = await post(url(), body, { authorization: `${header.slice(0, cut)}${other}` });
          assert.equal((reply.json as { error?: { code: number } }).error?.code, 14, other);
        }
        const canonical = await post(url(), body, { authorization: header });
        assert.ok((canonical.json as { result?: unknown }).result, canonical.text);
      }
      for (const id of [k.apiKeyId, edKeyId]) {
        await ok(url(), "user/deleteApiKey", { apiKeyId: id }, bearer(admin.accessToken));
      }
    });

    it("refuses a caller lacking the method's scope (73)", async () => {
      const t = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["pki:read"]);
      assert.equal((await errCode(url(), "pkiAdmin/listHosts", {}, bearer(t.accessToken))).code, 73);
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(t.accessToken))).code, 73);
    });
  });

  describe("user/ API keys", () => {
    it("adds, reads, lists, updates and deletes keys, never returning a secret", async () => {
      const k = await addSecretKey(["user:read", "pki:read"], "reader");
      const got = await ok<{ apiKey: ApiKeyView }>(
        url(),
        "user/getApiKey",
        { apiKeyId: k.apiKeyId },
        bearer(admin.accessToken),
      );
      assert.equal(got.apiKey.apiKeyId, k.apiKeyId);
      assert.equal(got.apiKey.name, "reader");
      assert.equal(got.apiKey.enabled, true);
      assert.ok(typeof got.apiKey.createDate === "number");
      assert.ok(!("clientSecret" in got.apiKey));
      const list = await call(url(), "user/listApiKeys", {}, bearer(admin.accessToken));
      assert.ok(!JSON.stringify(list).includes(k.clientSecret), "no secret in listApiKeys");
      assert.ok(!JSON.stringify(list).includes(first.apiKeySecret));
      await ok(url(), "user/updateApiKey", { apiKeyId: k.apiKeyId, name: "renamed" }, bearer(admin.accessToken));
      const renamed = await ok<{ apiKey: ApiKeyView }>(
        url(),
        "user/getApiKey",
        { apiKeyId: k.apiKeyId },
        bearer(admin.accessToken),
      );
      assert.equal(renamed.apiKey.name, "renamed");
      await ok(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken));
      assert.equal(
        (await errCode(url(), "user/getApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken))).code,
        71,
      );
      assert.equal(
        (await errCode(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken))).code,
        71,
      );
      assert.equal(
        (await errCode(url(), "user/updateApiKey", { apiKeyId: k.apiKeyId, enabled: false }, bearer(admin.accessToken)))
          .code,
        71,
      );
    });

    it("refuses bad keys: private-key PEM, short secret, modifiers in maxScope (-32602)", async () => {
      const pair = ed25519Pair();
      const priv = await errCode(
        url(),
        "user/addApiKey",
        { type: "pubKey", name: "p", clientPubKey: pair.privateKeyPem, maxScope: [] },
        bearer(admin.accessToken),
      );
      assert.equal(priv.code, -32602);
      const short = await errCode(
        url(),
        "user/addApiKey",
        { type: "secret", name: "s", clientSecret: "short", maxScope: [] },
        bearer(admin.accessToken),
      );
      assert.equal(short.code, -32602);
      const mod = await errCode(
        url(),
        "user/addApiKey",
        { type: "secret", name: "m", clientSecret: newSecret(), maxScope: ["session:x"] },
        bearer(admin.accessToken),
      );
      assert.equal(mod.code, -32602);
    });

    it("refuses to give a new key scopes the caller does not hold (73)", async () => {
      const writer = await addSecretKey(["user:read", "user:write"]);
      const t = await tokenFor(url(), writer.apiKeyId, writer.clientSecret);
      const escalate = await errCode(
        url(),
        "user/addApiKey",
        { type: "secret", name: "esc", clientSecret: newSecret(), maxScope: ["pkiadmin:write"] },
        bearer(t.accessToken),
      );
      assert.equal(escalate.code, 73);
      await ok(url(), "user/deleteApiKey", { apiKeyId: writer.apiKeyId }, bearer(admin.accessToken));
    });

    it("refuses a caller managing a key that holds scopes the caller lacks (73), and leaves that key as it was", async () => {
      const writer = await addSecretKey(["user:read_write"], "writer");
      const t = await tokenFor(url(), writer.apiKeyId, writer.clientSecret);
      const strong = await addSecretKey(["user:read_write", "pkiadmin:read_write"], "strong");
      const strongToken = await tokenFor(url(), strong.apiKeyId, strong.clientSecret);
      const before = await ok<{ apiKey: ApiKeyView }>(
        url(),
        "user/getApiKey",
        { apiKeyId: strong.apiKeyId },
        bearer(admin.accessToken),
      );
      const attempts: [string, Record<string, unknown>][] = [
        ["user/updateApiKey", { apiKeyId: strong.apiKeyId, enabled: false }],
        ["user/updateApiKey", { apiKeyId: strong.apiKeyId, enabled: true }],
        ["user/updateApiKey", { apiKeyId: strong.apiKeyId, maxScope: ["user:read"] }],
        ["user/updateApiKey", { apiKeyId: strong.apiKeyId, name: "taken-over" }],
        ["user/deleteApiKey", { apiKeyId: strong.apiKeyId }],
      ];
      for (const [method, params] of attempts) {
        assert.equal((await errCode(url(), method, params, bearer(t.accessToken))).code, 73, JSON.stringify(params));
      }
      const after = await ok<{ apiKey: ApiKeyView }>(
        url(),
        "user/getApiKey",
        { apiKeyId: strong.apiKeyId },
        bearer(admin.accessToken),
      );
      assert.deepEqual(after, before);
      await ok(url(), "pkiAdmin/listHosts", {}, bearer(strongToken.accessToken));

      // Within its own scopes the same caller manages keys as before.
      const weak = await addSecretKey(["user:read"], "weak");
      await ok(
        url(),
        "user/updateApiKey",
        { apiKeyId: weak.apiKeyId, name: "managed", enabled: false },
        bearer(t.accessToken),
      );
      await ok(url(), "user/deleteApiKey", { apiKeyId: weak.apiKeyId }, bearer(t.accessToken));
      for (const id of [writer.apiKeyId, strong.apiKeyId]) {
        await ok(url(), "user/deleteApiKey", { apiKeyId: id }, bearer(admin.accessToken));
      }
    });

    it("refuses an 11th key (72)", async () => {
      const list = await ok<{ list: ApiKeyView[] }>(url(), "user/listApiKeys", {}, bearer(admin.accessToken));
      const added: string[] = [];
      for (let i = list.list.length; i < 10; i++) added.push((await addSecretKey(["pki:read"])).apiKeyId);
      const eleventh = await errCode(
        url(),
        "user/addApiKey",
        { type: "secret", name: "11", clientSecret: newSecret(), maxScope: [] },
        bearer(admin.accessToken),
      );
      assert.equal(eleventh.code, 72);
      for (const id of added) await ok(url(), "user/deleteApiKey", { apiKeyId: id }, bearer(admin.accessToken));
    });
  });

  describe("revocation", () => {
    it("disabling a key refuses its tokens at once (75); re-enabling revives nothing", async () => {
      const k = await addSecretKey(["user:read"]);
      const t = await tokenFor(url(), k.apiKeyId, k.clientSecret);
      await ok(url(), "user/listApiKeys", {}, bearer(t.accessToken));
      await ok(url(), "user/updateApiKey", { apiKeyId: k.apiKeyId, enabled: false }, bearer(admin.accessToken));
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(t.accessToken))).code, 75);
      assert.equal(
        (await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: t.refreshToken })).code,
        75,
      );
      assert.equal(
        (
          await errCode(url(), "auth/token", {
            grantType: "client_credentials",
            clientId: k.apiKeyId,
            clientSecret: k.clientSecret,
            scope: [],
          })
        ).code,
        12,
        "a disabled key cannot get tokens",
      );
      await ok(url(), "user/updateApiKey", { apiKeyId: k.apiKeyId, enabled: true }, bearer(admin.accessToken));
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(t.accessToken))).code, 75);
      await ok(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken));
    });

    it("deleting a key refuses its tokens at once (75)", async () => {
      const k = await addSecretKey(["user:read"]);
      const t = await tokenFor(url(), k.apiKeyId, k.clientSecret);
      await ok(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken));
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(t.accessToken))).code, 75);
      assert.equal(
        (await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: t.refreshToken })).code,
        75,
      );
    });

    it("narrowing a key's maxScope revokes the sessions outside it and keeps the others", async () => {
      const k = await addSecretKey(["user:read", "pki:read"]);
      const wide = await tokenFor(url(), k.apiKeyId, k.clientSecret, ["user:read", "pki:read"]);
      const narrow = await tokenFor(url(), k.apiKeyId, k.clientSecret, ["user:read"]);
      await ok(
        url(),
        "user/updateApiKey",
        { apiKeyId: k.apiKeyId, maxScope: ["user:read"] },
        bearer(admin.accessToken),
      );
      assert.equal((await errCode(url(), "user/listApiKeys", {}, bearer(wide.accessToken))).code, 75);
      await ok(url(), "user/listApiKeys", {}, bearer(narrow.accessToken));
      await ok(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken));
    });
  });

  describe("user/rotateApiKey (API.md section 10)", () => {
    /**
     * Long enough for every in-grace check below to finish on a loaded
     * machine; what happens after it is polled for, never slept for.
     */
    const GRACE = 3000;

    const rotate = (params: Record<string, unknown>) =>
      ok<RotateResult>(url(), "user/rotateApiKey", params, bearer(admin.accessToken));

    /** The JSON-RPC error code of a request authenticated by `headers`, or 0 when it succeeds. */
    async function requestCode(headers: Record<string, string>, body = rpcBody("user/listApiKeys", {})) {
      const reply = (await post(url(), body, headers)).json as { error?: { code: number } };
      return reply.error?.code ?? 0;
    }

    const signedCode = (apiKeyId: string, credential: { secret: string } | { privateKeyPem: string }) => {
      const body = rpcBody("user/listApiKeys", {});
      return requestCode(signed(apiKeyId, credential, body), body);
    };

    /** A client_signature grant: its tokens, or its error code. */
    async function signatureGrant(apiKeyId: string, credential: { secret: string } | { privateKeyPem: string }) {
      const timestamp = Date.now();
      const nonce = randomBytes(12).toString("base64url");
      const payload = grantSigningPayload(timestamp, nonce, undefined);
      const signature =
        "secret" in credential
          ? hmacSignature(credential.secret, payload)
          : ed25519Sign(credential.privateKeyPem, payload);
      const reply = await call(url(), "auth/token", {
        grantType: "client_signature",
        clientId: apiKeyId,
        timestamp,
        nonce,
        signature,
        scope: [],
      });
      return reply.error ? reply.error.code : (reply.result as TokenResult);
    }

    async function secretGrant(apiKeyId: string, clientSecret: string) {
      const reply = await call(url(), "auth/token", {
        grantType: "client_credentials",
        clientId: apiKeyId,
        clientSecret,
        scope: [],
      });
      return reply.error ? reply.error.code : (reply.result as TokenResult);
    }

    const tokenCode = (t: TokenResult) => requestCode(bearer(t.accessToken));

    const view = async (apiKeyId: string) =>
      (await ok<{ apiKey: ApiKeyView }>(url(), "user/getApiKey", { apiKeyId }, bearer(admin.accessToken))).apiKey;

    it("a generated secret is returned once; both secrets work for every scheme until the grace period ends, then the old one and its sessions stop", async () => {
      const k = await addSecretKey(["user:read"]);
      const oldSession = await tokenFor(url(), k.apiKeyId, k.clientSecret);
      const before = Date.now();
      const res = await rotate({ apiKeyId: k.apiKeyId, gracePeriod: GRACE });
      const after = Date.now();
      const generated = res.clientSecret ?? "";
      usedSecrets.add(generated);
      assert.deepEqual(Object.keys(res).sort(), ["apiKeyId", "clientSecret", "previousCredentialExpiresAt"]);
      assert.equal(res.apiKeyId, k.apiKeyId);
      assert.match(generated, /^[A-Za-z0-9_-]{43}$/, "256 random bits, base64url");
      assert.ok(
        res.previousCredentialExpiresAt >= before + GRACE - 1000 &&
          res.previousCredentialExpiresAt <= after + GRACE + 1000,
      );
      assert.equal((await view(k.apiKeyId)).previousCredentialExpiresAt, res.previousCredentialExpiresAt);
      const listed = await ok<{ list: ApiKeyView[] }>(url(), "user/listApiKeys", {}, bearer(admin.accessToken));
      assert.equal(
        listed.list.find((x) => x.apiKeyId === k.apiKeyId)?.previousCredentialExpiresAt,
        res.previousCredentialExpiresAt,
      );

      // In the grace period: the old and the new secret, every scheme.
      const oldGrant = await secretGrant(k.apiKeyId, k.clientSecret);
      assert.equal(typeof oldGrant, "object", `old secret grant during grace: ${oldGrant}`);
      const newSession = await tokenFor(url(), k.apiKeyId, generated);
      assert.equal(await requestCode(basic(k.apiKeyId, k.clientSecret)), 0);
      assert.equal(await requestCode(basic(k.apiKeyId, generated)), 0);
      assert.equal(await signedCode(k.apiKeyId, { secret: k.clientSecret }), 0);
      assert.equal(await signedCode(k.apiKeyId, { secret: generated }), 0);
      assert.equal(typeof (await signatureGrant(k.apiKeyId, { secret: k.clientSecret })), "object");
      assert.equal(typeof (await signatureGrant(k.apiKeyId, { secret: generated })), "object");
      assert.ok(Date.now() < res.previousCredentialExpiresAt, "the in-grace checks ran inside the grace period");

      // After it: the old secret is a wrong credential, and its sessions end.
      await until(
        "the old secret is refused",
        async () => (await requestCode(basic(k.apiKeyId, k.clientSecret))) === 14,
      );
      assert.ok(Date.now() >= res.previousCredentialExpiresAt - 1000, "not refused before the grace period ends");
      assert.equal(await secretGrant(k.apiKeyId, k.clientSecret), 12);
      assert.equal(await signatureGrant(k.apiKeyId, { secret: k.clientSecret }), 12);
      assert.equal(await signedCode(k.apiKeyId, { secret: k.clientSecret }), 14);
      for (const t of [oldSession, oldGrant as TokenResult]) {
        await until("a session of the old secret is revoked", async () => (await tokenCode(t)) === 75);
        assert.equal(
          (await errCode(url(), "auth/token", { grantType: "refresh_token", refreshToken: t.refreshToken })).code,
          75,
        );
      }
      assert.equal(await tokenCode(newSession), 0, "a session of the new secret is untouched");
      assert.equal(await requestCode(basic(k.apiKeyId, generated)), 0);
      assert.equal((await view(k.apiKeyId)).previousCredentialExpiresAt, undefined);
      await ok(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken));
    });

    it("a given secret replaces the key's secret and is never echoed", async () => {
      const k = await addSecretKey(["user:read"]);
      const given = newSecret();
      const res = await rotate({ apiKeyId: k.apiKeyId, clientSecret: given });
      assert.deepEqual(Object.keys(res).sort(), ["apiKeyId", "previousCredentialExpiresAt"]);
      assert.ok(Math.abs(res.previousCredentialExpiresAt - (Date.now() + 86_400_000)) < 60_000, "24 h by default");
      assert.equal(await requestCode(basic(k.apiKeyId, given)), 0);
      assert.equal(await requestCode(basic(k.apiKeyId, k.clientSecret)), 0, "the old one works for 24 h");
      const shown = JSON.stringify(await view(k.apiKeyId));
      assert.ok(!shown.includes(given) && !shown.includes(k.clientSecret));
      await ok(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken));
    });

    it("an Ed25519 key gets a new public key: both keys sign requests and client_signature grants until the grace period ends", async () => {
      const oldPair = ed25519Pair();
      const { apiKeyId } = await ok<{ apiKeyId: string }>(
        url(),
        "user/addApiKey",
        { type: "pubKey", name: "ed", clientPubKey: oldPair.publicKeyPem, maxScope: ["user:read"] },
        bearer(admin.accessToken),
      );
      const oldSession = await signatureGrant(apiKeyId, { privateKeyPem: oldPair.privateKeyPem });
      assert.equal(typeof oldSession, "object");
      const newPair = ed25519Pair();
      const wrongType = await errCode(
        url(),
        "user/rotateApiKey",
        { apiKeyId, clientSecret: newSecret() },
        bearer(admin.accessToken),
      );
      assert.equal(wrongType.code, -32602);
      const missing = await errCode(url(), "user/rotateApiKey", { apiKeyId }, bearer(admin.accessToken));
      assert.equal(missing.code, -32602);
      const res = await rotate({ apiKeyId, clientPubKey: newPair.publicKeyPem, gracePeriod: GRACE });
      assert.equal(res.clientSecret, undefined);
      assert.equal(
        (await view(apiKeyId)).clientPublicKey?.replace(/\s/g, ""),
        newPair.publicKeyPem.replace(/\s/g, ""),
        "clientPublicKey is the newest key",
      );
      assert.equal(await signedCode(apiKeyId, { privateKeyPem: oldPair.privateKeyPem }), 0);
      assert.equal(await signedCode(apiKeyId, { privateKeyPem: newPair.privateKeyPem }), 0);
      assert.equal(typeof (await signatureGrant(apiKeyId, { privateKeyPem: oldPair.privateKeyPem })), "object");
      const newSession = await signatureGrant(apiKeyId, { privateKeyPem: newPair.privateKeyPem });
      assert.equal(typeof newSession, "object");
      assert.ok(Date.now() < res.previousCredentialExpiresAt, "the in-grace checks ran inside the grace period");

      await until(
        "the old key's signatures are refused",
        async () => (await signedCode(apiKeyId, { privateKeyPem: oldPair.privateKeyPem })) === 14,
      );
      assert.equal(await signatureGrant(apiKeyId, { privateKeyPem: oldPair.privateKeyPem }), 12);
      assert.equal(await signedCode(apiKeyId, { privateKeyPem: newPair.privateKeyPem }), 0);
      await until("the old key's session is revoked", async () => (await tokenCode(oldSession as TokenResult)) === 75);
      assert.equal(await tokenCode(newSession as TokenResult), 0);
      await ok(url(), "user/deleteApiKey", { apiKeyId }, bearer(admin.accessToken));
    });

    it("a grace period of 0 refuses the old secret at once and ends its sessions", async () => {
      const k = await addSecretKey(["user:read"]);
      const oldSession = await tokenFor(url(), k.apiKeyId, k.clientSecret);
      const given = newSecret();
      const res = await rotate({ apiKeyId: k.apiKeyId, clientSecret: given, gracePeriod: 0 });
      assert.ok(res.previousCredentialExpiresAt <= Date.now());
      assert.equal(await requestCode(basic(k.apiKeyId, k.clientSecret)), 14);
      assert.equal(await secretGrant(k.apiKeyId, k.clientSecret), 12);
      assert.equal((await view(k.apiKeyId)).previousCredentialExpiresAt, undefined);
      await until("the old secret's session is revoked", async () => (await tokenCode(oldSession)) === 75);
      const fresh = await tokenFor(url(), k.apiKeyId, given);
      assert.equal(await tokenCode(fresh), 0);
      await ok(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken));
    });

    it("rotating again drops the older previous credential at once; the one it replaces keeps its grace", async () => {
      const k = await addSecretKey(["user:read"]);
      const original = await tokenFor(url(), k.apiKeyId, k.clientSecret);
      const second = newSecret();
      await rotate({ apiKeyId: k.apiKeyId, clientSecret: second, gracePeriod: 600_000 });
      const secondSession = await tokenFor(url(), k.apiKeyId, second);
      const third = newSecret();
      await rotate({ apiKeyId: k.apiKeyId, clientSecret: third, gracePeriod: 600_000 });
      assert.equal(await requestCode(basic(k.apiKeyId, k.clientSecret)), 14);
      assert.equal(await secretGrant(k.apiKeyId, k.clientSecret), 12);
      assert.equal(await requestCode(basic(k.apiKeyId, second)), 0);
      assert.equal(await requestCode(basic(k.apiKeyId, third)), 0);
      await until("the original secret's session is revoked", async () => (await tokenCode(original)) === 75);
      assert.equal(await tokenCode(secondSession), 0);
      await ok(url(), "user/deleteApiKey", { apiKeyId: k.apiKeyId }, bearer(admin.accessToken));
    });

    it("refuses an unknown key (71), a caller lacking the key's scopes (73) and bad params (-32602), changing nothing", async () => {
      const target = await addSecretKey(["user:read", "pkiadmin:write"]);
      const manager = await addSecretKey(["user:read_write"]);
      const managerToken = await tokenFor(url(), manager.apiKeyId, manager.clientSecret);
      const code = async (params: Record<string, unknown>, token = admin.accessToken) =>
        (await errCode(url(), "user/rotateApiKey", params, bearer(token))).code;
      assert.equal(await code({ apiKeyId: "0123456789abcdef01234567" }), 71);
      assert.equal(await code({ apiKeyId: target.apiKeyId }, managerToken.accessToken), 73);
      const readOnly = await tokenFor(url(), target.apiKeyId, target.clientSecret, ["user:read"]);
      assert.equal(await code({ apiKeyId: target.apiKeyId }, readOnly.accessToken), 73, "user:write is needed");
      for (const bad of [
        { apiKeyId: target.apiKeyId, clientPubKey: ed25519Pair().publicKeyPem },
        { apiKeyId: target.apiKeyId, clientSecret: "short" },
        { apiKeyId: target.apiKeyId, gracePeriod: -1 },
        { apiKeyId: target.apiKeyId, gracePeriod: 2_592_000_001 },
        { apiKeyId: target.apiKeyId, gracePeriod: "1000" },
        { apiKeyId: target.apiKeyId, extra: 1 },
        {},
      ]) {
        assert.equal(await code(bad), -32602, JSON.stringify(bad));
      }
      assert.equal(await requestCode(basic(target.apiKeyId, target.clientSecret)), 0);
      assert.equal((await view(target.apiKeyId)).previousCredentialExpiresAt, undefined, "nothing was rotated");
      for (const id of [target.apiKeyId, manager.apiKeyId])
        await ok(url(), "user/deleteApiKey", { apiKeyId: id }, bearer(admin.accessToken));
    });
  });

  describe("auth/bindAccessToken", () => {
    it("is refused over HTTP (59)", async () => {
      assert.equal((await errCode(url(), "auth/bindAccessToken", { accessToken: admin.accessToken })).code, 59);
    });

    it("binds a token to a WebSocket connection, replacing earlier bindings, and refuses bad tokens (76)", async () => {
      const ws = await WsClient.open(url());
      try {
        assert.equal((await ws.call("user/listApiKeys")).error?.code, 14);
        assert.equal((await ws.call("auth/bindAccessToken", { accessToken: "garbage" })).error?.code, 76);
        const pkiOnly = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["pki:read"]);
        assert.equal((await ws.call("auth/bindAccessToken", { accessToken: pkiOnly.accessToken })).result, "OK");
        assert.equal((await ws.call("user/listApiKeys")).error?.code, 73);
        assert.equal((await ws.call("auth/bindAccessToken", { accessToken: admin.accessToken })).result, "OK");
        const list = await ws.call("user/listApiKeys");
        assert.ok(list.result, JSON.stringify(list));
      } finally {
        ws.close();
      }
    });

    it("refuses a revoked token (75) and stops authorising a bound token once it is revoked", async () => {
      const ws = await WsClient.open(url());
      try {
        const t = await tokenFor(url(), first.apiKeyId, first.apiKeySecret, ["user:read"]);
        assert.equal((await ws.call("auth/bindAccessToken", { accessToken: t.accessToken })).result, "OK");
        assert.ok((await ws.call("user/listApiKeys")).result);
        // Refreshing rotates the session: the bound access token is now stale.
        const next = await ok<TokenResult>(url(), "auth/token", {
          grantType: "refresh_token",
          refreshToken: t.refreshToken,
        });
        usedSecrets.add(next.accessToken);
        usedSecrets.add(next.refreshToken);
        assert.equal((await ws.call("user/listApiKeys")).error?.code, 75);
        assert.equal((await ws.call("auth/bindAccessToken", { accessToken: t.accessToken })).error?.code, 75);
        assert.equal((await ws.call("auth/bindAccessToken", { accessToken: next.accessToken })).result, "OK");
        assert.ok((await ws.call("user/listApiKeys")).result);
      } finally {
        ws.close();
      }
    });
  });
}
