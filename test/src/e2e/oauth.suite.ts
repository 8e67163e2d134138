import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { createAccessTokenVerifier } from "@pkiserver/contract";
import { basic, bearer, call, ok } from "../support/client";
import { type Ctx, usedSecrets } from "./auth.suite";

interface OAuthReply {
  status: number;
  headers: Headers;
  json: Record<string, unknown> | undefined;
}

interface TokenReply {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  scope: string;
  session_name?: string;
}

const FORM = "application/x-www-form-urlencoded";

async function form(
  url: string,
  path: string,
  params: Record<string, string> | string,
  headers: Record<string, string> = {},
): Promise<OAuthReply> {
  const body = typeof params === "string" ? params : new URLSearchParams(params).toString();
  const res = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": FORM, ...headers }, body });
  const text = await res.text();
  const json = text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  return { status: res.status, headers: res.headers, json };
}

function remember(t: TokenReply): TokenReply {
  usedSecrets.add(t.access_token);
  usedSecrets.add(t.refresh_token);
  return t;
}

/** An RFC 6749 section 5.2 error reply: status, code, never cached. */
function assertError(r: OAuthReply, status: number, error: string, challenge = false): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json?.error, error);
  assert.equal(r.headers.get("cache-control"), "no-store");
  assert.equal(r.headers.get("www-authenticate")?.startsWith("Basic ") ?? false, challenge);
  assert.equal(JSON.stringify(r.json).includes("Error"), false, "no internal detail");
}

/** API.md section 13: OAuth 2.0 token, introspection and revocation endpoints, JWKS and metadata. */
export function oauthSuite(ctx: () => Ctx): void {
  const url = () => ctx().sys.url;
  let key: { id: string; secret: string };
  let other: { id: string; secret: string };

  async function addKey(maxScope: string[]) {
    const secret = randomBytes(24).toString("base64url");
    usedSecrets.add(secret);
    const { apiKeyId } = await ok<{ apiKeyId: string }>(
      url(),
      "user/addApiKey",
      { type: "secret", name: "oauth", clientSecret: secret, maxScope },
      bearer(ctx().admin.accessToken),
    );
    return { id: apiKeyId, secret };
  }

  async function token(k = key, extra: Record<string, string> = {}): Promise<TokenReply> {
    const r = await form(url(), "/oauth2/token", { grant_type: "client_credentials", ...extra }, basic(k.id, k.secret));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return remember(r.json as unknown as TokenReply);
  }

  const introspect = (t: string, k = key) => form(url(), "/oauth2/introspect", { token: t }, basic(k.id, k.secret));

  before(async () => {
    key = await addKey(["pki:read", "user:read"]);
    other = await addKey(["pki:read"]);
  });

  describe("discovery", () => {
    it("the metadata names the issuer, the endpoints, grants and client authentication methods (RFC 8414)", async () => {
      const res = await fetch(`${url()}/.well-known/oauth-authorization-server`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("cache-control") ?? "", /max-age=\d+/);
      const meta = (await res.json()) as Record<string, unknown>;
      const issuer = meta.issuer as string;
      assert.match(issuer, /^https?:\/\//);
      assert.equal(meta.token_endpoint, `${issuer}/oauth2/token`);
      assert.equal(meta.jwks_uri, `${issuer}/.well-known/jwks.json`);
      assert.equal(meta.introspection_endpoint, `${issuer}/oauth2/introspect`);
      assert.equal(meta.revocation_endpoint, `${issuer}/oauth2/revoke`);
      assert.deepEqual(meta.grant_types_supported, ["client_credentials", "refresh_token"]);
      assert.deepEqual(meta.token_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post"]);
    });

    it("the JWKS holds Ed25519 keys that verify the access tokens, with the metadata's issuer as iss", async () => {
      const res = await fetch(`${url()}/.well-known/jwks.json`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("cache-control") ?? "", /^public, max-age=\d+$/);
      const { keys } = (await res.json()) as { keys: Record<string, string>[] };
      assert.ok(keys.length >= 1);
      for (const k of keys) {
        assert.deepEqual(Object.keys(k).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
        assert.equal(k.kty, "OKP");
        assert.equal(k.crv, "Ed25519");
        assert.equal(k.alg, "EdDSA");
        assert.equal(k.use, "sig");
      }
      const meta = (await (await fetch(`${url()}/.well-known/oauth-authorization-server`)).json()) as {
        issuer: string;
      };
      const t = await token();
      const verifier = createAccessTokenVerifier({ identity: { issuer: meta.issuer, audience: "pkiserver" } });
      verifier.setKeys(keys.map((k) => ({ kid: k.kid as string, publicJwk: JSON.stringify(k) })));
      const claims = await verifier.verify(t.access_token);
      assert.equal(claims.apiKeyId, key.id);
      const payload = JSON.parse(Buffer.from(t.access_token.split(".")[1] as string, "base64url").toString());
      assert.equal(payload.iss, meta.issuer);
      assert.equal(payload.aud, "pkiserver");
      assert.equal(payload.client_id, key.id);
      assert.equal(payload.scope, "user:read pki:read");
      assert.equal(typeof payload.jti, "string");
    });
  });

  describe("token endpoint (RFC 6749)", () => {
    it("client_credentials with client_secret_basic or client_secret_post grants a working Bearer pair, never cached", async () => {
      const viaBasic = await form(
        url(),
        "/oauth2/token",
        { grant_type: "client_credentials", scope: "pki:read" },
        basic(key.id, key.secret),
      );
      const viaPost = await form(url(), "/oauth2/token", {
        grant_type: "client_credentials",
        scope: "pki:read",
        client_id: key.id,
        client_secret: key.secret,
      });
      for (const r of [viaBasic, viaPost]) {
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("cache-control"), "no-store");
        assert.equal(r.headers.get("pragma"), "no-cache");
        const t = remember(r.json as unknown as TokenReply);
        assert.equal(t.token_type, "Bearer");
        assert.equal(t.expires_in, 900);
        assert.equal(t.scope, "pki:read");
        assert.equal(typeof t.refresh_token, "string");
        const reply = await call(url(), "user/listApiKeys", {}, bearer(t.access_token));
        assert.equal(reply.error?.code, 73, "the token carries the requested scope only");
        assert.ok((await call(url(), "pki/getKeyHistory", {}, bearer(t.access_token))).error?.code !== 75);
      }
    });

    it("takes scope modifiers and an empty scope as auth/token does", async () => {
      const t = await token(key, { scope: "user:read session:oauth-named expiresIn:60000" });
      assert.equal(t.expires_in, 60);
      assert.equal(t.scope, "user:read");
      assert.equal(t.session_name, "oauth-named");
      assert.equal((await token()).scope, "user:read pki:read");
    });

    it("refresh_token rotates the pair: the old pair stops working and reusing it is invalid_grant", async () => {
      const t = await token();
      const r = await form(url(), "/oauth2/token", { grant_type: "refresh_token", refresh_token: t.refresh_token });
      assert.equal(r.status, 200);
      const next = remember(r.json as unknown as TokenReply);
      assert.notEqual(next.refresh_token, t.refresh_token);
      assert.equal((await call(url(), "pki/getKeyHistory", {}, bearer(t.access_token))).error?.code, 75);
      assertError(
        await form(url(), "/oauth2/token", { grant_type: "refresh_token", refresh_token: t.refresh_token }),
        400,
        "invalid_grant",
      );
      // Reuse is theft: the whole session is revoked, the new pair with it.
      assertError(
        await form(url(), "/oauth2/token", { grant_type: "refresh_token", refresh_token: next.refresh_token }),
        400,
        "invalid_grant",
      );
    });

    it("a client that authenticates may refresh only its own refresh tokens", async () => {
      const t = await token();
      const stolen = await form(
        url(),
        "/oauth2/token",
        { grant_type: "refresh_token", refresh_token: t.refresh_token },
        basic(other.id, other.secret),
      );
      assertError(stolen, 400, "invalid_grant");
      assert.equal((await introspect(t.access_token)).json?.active, true, "the owner's pair was not rotated");
      const own = await form(
        url(),
        "/oauth2/token",
        { grant_type: "refresh_token", refresh_token: t.refresh_token },
        basic(key.id, key.secret),
      );
      assert.equal(own.status, 200);
      remember(own.json as unknown as TokenReply);
    });

    it("answers every error as RFC 6749 section 5.2 says", async () => {
      const u = url();
      const cc = { grant_type: "client_credentials" };
      const wrong = "w".repeat(40);
      assertError(await form(u, "/oauth2/token", cc, basic(key.id, wrong)), 401, "invalid_client", true);
      assertError(await form(u, "/oauth2/token", cc, basic("unknown-key", wrong)), 401, "invalid_client", true);
      assertError(
        await form(u, "/oauth2/token", cc, { authorization: "Basic !!notbase64" }),
        401,
        "invalid_client",
        true,
      );
      assertError(
        await form(u, "/oauth2/token", { ...cc, client_id: key.id, client_secret: wrong }),
        401,
        "invalid_client",
      );
      assertError(await form(u, "/oauth2/token", cc), 401, "invalid_client", true);
      assertError(
        await form(u, "/oauth2/token", { ...cc, client_secret: key.secret }, basic(key.id, key.secret)),
        400,
        "invalid_request",
      );
      assertError(await form(u, "/oauth2/token", {}, basic(key.id, key.secret)), 400, "invalid_request");
      assertError(
        await form(
          u,
          "/oauth2/token",
          "grant_type=client_credentials&grant_type=refresh_token",
          basic(key.id, key.secret),
        ),
        400,
        "invalid_request",
      );
      const json = await fetch(`${u}/oauth2/token`, {
        method: "POST",
        headers: { "content-type": "application/json", ...basic(key.id, key.secret) },
        body: JSON.stringify(cc),
      });
      assert.equal(json.status, 400);
      assert.equal(((await json.json()) as { error: string }).error, "invalid_request");
      for (const grant of ["password", "authorization_code", "client_signature"]) {
        assertError(
          await form(u, "/oauth2/token", { grant_type: grant }, basic(key.id, key.secret)),
          400,
          "unsupported_grant_type",
        );
      }
      for (const scope of ["nope", "pkiadmin:write", "pki:read  user:read", " pki:read"]) {
        assertError(await form(u, "/oauth2/token", { ...cc, scope }, basic(key.id, key.secret)), 400, "invalid_scope");
      }
      assertError(await form(u, "/oauth2/token", { grant_type: "refresh_token" }), 400, "invalid_request");
      for (const refresh_token of ["garbage", `${"A".repeat(22)}.${"B".repeat(43)}`]) {
        assertError(
          await form(u, "/oauth2/token", { grant_type: "refresh_token", refresh_token }),
          400,
          "invalid_grant",
        );
      }
      assertError(
        await form(u, "/oauth2/token", { grant_type: "refresh_token", refresh_token: "x" }, basic(key.id, wrong)),
        401,
        "invalid_client",
        true,
      );
    });
  });

  describe("introspection (RFC 7662) and revocation (RFC 7009)", () => {
    it("a live access or refresh token of the asking key is active with its scope, times and session", async () => {
      const t = await token(key, { scope: "pki:read" });
      const before = Math.floor(Date.now() / 1000);
      const access = await introspect(t.access_token);
      assert.equal(access.status, 200);
      assert.equal(access.headers.get("cache-control"), "no-store");
      const a = access.json as Record<string, unknown>;
      assert.equal(a.active, true);
      assert.equal(a.scope, "pki:read");
      assert.equal(a.client_id, key.id);
      assert.equal(a.sub, key.id);
      assert.equal(a.token_type, "Bearer");
      assert.equal(typeof a.sid, "string");
      assert.ok(Math.abs((a.exp as number) - (before + 900)) <= 2);
      assert.ok(Math.abs((a.iat as number) - before) <= 2);
      // Form credentials work as Basic does.
      const refresh = await form(url(), "/oauth2/introspect", {
        token: t.refresh_token,
        client_id: key.id,
        client_secret: key.secret,
      });
      const r = refresh.json as Record<string, unknown>;
      assert.equal(r.active, true);
      assert.equal(r.sid, a.sid);
      assert.equal(r.scope, "pki:read");
      assert.equal(r.token_type, "refresh_token");
    });

    it("another key's token, garbage and rotated-away tokens are inactive; introspection needs the key's credentials", async () => {
      const t = await token();
      assert.deepEqual((await introspect(t.access_token, other)).json, { active: false });
      assert.deepEqual((await introspect(t.refresh_token, other)).json, { active: false });
      for (const garbage of ["x", "a.b.c", `${t.access_token}x`]) {
        assert.deepEqual((await introspect(garbage)).json, { active: false });
      }
      assertError(await form(url(), "/oauth2/introspect", { token: t.access_token }), 401, "invalid_client", true);
      assertError(
        await form(url(), "/oauth2/introspect", { token: t.access_token }, basic(key.id, "w".repeat(40))),
        401,
        "invalid_client",
        true,
      );
      assertError(await form(url(), "/oauth2/introspect", {}, basic(key.id, key.secret)), 400, "invalid_request");
      assertError(await form(url(), "/oauth2/revoke", { token: t.access_token }), 401, "invalid_client", true);
    });

    for (const which of ["access_token", "refresh_token"] as const) {
      it(`revoking the ${which} ends the whole session at once; another key's revocation changes nothing`, async () => {
        const t = await token();
        const foreign = await form(url(), "/oauth2/revoke", { token: t[which] }, basic(other.id, other.secret));
        assert.equal(foreign.status, 200);
        assert.equal((await introspect(t.access_token)).json?.active, true);
        const r = await form(url(), "/oauth2/revoke", { token: t[which] }, basic(key.id, key.secret));
        assert.equal(r.status, 200);
        assert.equal(r.json, undefined);
        assert.deepEqual((await introspect(t.access_token)).json, { active: false });
        assert.deepEqual((await introspect(t.refresh_token)).json, { active: false });
        assert.equal((await call(url(), "pki/getKeyHistory", {}, bearer(t.access_token))).error?.code, 75);
        assertError(
          await form(url(), "/oauth2/token", { grant_type: "refresh_token", refresh_token: t.refresh_token }),
          400,
          "invalid_grant",
        );
        // Revoking again, or a token that never was, is no error.
        assert.equal((await form(url(), "/oauth2/revoke", { token: t[which] }, basic(key.id, key.secret))).status, 200);
        assert.equal(
          (await form(url(), "/oauth2/revoke", { token: "garbage" }, basic(key.id, key.secret))).status,
          200,
        );
      });
    }
  });

  describe("third-party clients", () => {
    it("Authlib fetches tokens (basic and post), PyJWT's PyJWKClient verifies them, revocation and errors per RFC", async (t) => {
      const root = join(__dirname, "..", "..", "..");
      if (spawnSync("python3", ["--version"]).error !== undefined) {
        t.skip("python3 is not installed: the Python OAuth client checks did not run");
        return;
      }
      // Asynchronously: in the embedded form the server runs in this process.
      const run = promisify(execFile);
      const python =
        process.env.PMX_OAUTH_PYTHON ||
        (await run("bash", [join(root, "test", "oauth", "setup-venv.sh")], { timeout: 300_000 })).stdout.trim();
      const script = join(root, "test", "oauth", "client_check.py");
      const res = await run(python, [script, url(), key.id, key.secret], { timeout: 60_000 }).catch(
        (err: { stdout?: string; stderr?: string }) => assert.fail(`${err.stdout}\n${err.stderr}`),
      );
      assert.match(res.stdout, /all OAuth client checks passed/);
    });
  });
}
