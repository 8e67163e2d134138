import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fields } from "@pkiserver/contract";
import { AppError, ed25519Sign, grantSigningPayload, hmacSignature } from "@pkiserver/kit/core";
import { ALL, type Harness, harness, SECRET } from "../testing/fixtures";
import { issueTokenForClient } from "./issue-token";

const code = (c: string) => (err: unknown) => err instanceof AppError && err.code === c;
const creds = (h: Harness, scope: string[], over: { clientId?: string; clientSecret?: string } = {}) => ({
  type: "client_credentials" as const,
  clientId: over.clientId ?? h.keyOne,
  clientSecret: over.clientSecret ?? SECRET,
  scope,
});

// API.md section 3 test key.
const ED_PRIVATE =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOBVFGaSFtfqbNvZWctFKg3k+I0T5YXRavpKAD9+BgCX\n-----END PRIVATE KEY-----";
const ED_PUBLIC =
  "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEADsSTjY2wnm1iwWamIWwLTPVhtTIb8TVlI8tts3wkhkQ=\n-----END PUBLIC KEY-----";

describe("issuing tokens for client grants", () => {
  it("an empty scope request grants the key's whole maxScope, expanded", async () => {
    const h = await harness();
    const keyTwo = await h.apikey.add({ maxScope: ["user:read_write", "pki:read"], secret: SECRET });
    const pair = await issueTokenForClient(h.deps, creds(h, [], { clientId: keyTwo }));
    assert.deepEqual(pair.scope, ["user:read", "user:write", "pki:read"]);
    assert.equal(pair.tokenType, "Bearer");
    assert.equal(pair.accessTokenExpiresIn, 900_000);
    assert.equal(pair.refreshTokenExpiresIn, 604_800_000);
    assert.equal(pair.sessionName, undefined);
    const claims = await h.deps.verifier.verify(pair.accessToken);
    assert.deepEqual(claims.scope, ["user:read", "user:write", "pki:read"]);
    assert.equal(claims.apiKeyId, keyTwo);
    assert.equal(claims.sessionId, pair.sessionId);
    assert.equal(claims.generation, 0);
  });

  it("answers the granted scope expanded, with modifiers left out, and applies the modifiers", async () => {
    const h = await harness();
    const pair = await issueTokenForClient(
      h.deps,
      creds(h, ["user:read_write", "session:ci", "ipAddr:2001:DB8::0:1", "expiresIn:60000"]),
    );
    assert.deepEqual(pair.scope, ["user:read", "user:write"]);
    assert.equal(pair.sessionName, "ci");
    assert.equal(pair.accessTokenExpiresIn, 60_000);
    const claims = await h.deps.verifier.verify(pair.accessToken);
    assert.equal(claims.ipAddr, "2001:db8::1");
    assert.equal(claims.expiresAt - claims.issuedAt, 60_000);
    const stored = await h.sessions.get(pair.sessionId);
    assert.equal(stored?.name, "ci");
    assert.equal(stored?.accessLifetime, 60_000);
  });

  it("a scope beyond the key's maxScope is 73 and opens no session", async () => {
    const h = await harness();
    const keyTwo = await h.apikey.add({ maxScope: ["pki:read"], secret: SECRET });
    await assert.rejects(
      issueTokenForClient(h.deps, creds(h, ["pki:read", "user:write"], { clientId: keyTwo })),
      code("auth.insufficient_scope"),
    );
    await assert.rejects(
      issueTokenForClient(h.deps, creds(h, ["pki:read_write"], { clientId: keyTwo })),
      code("auth.insufficient_scope"),
    );
    assert.deepEqual(await h.sessions.listLive(keyTwo, h.clock.t), []);
  });

  it("unknown scopes and bad modifiers are -32602 naming the entry", async () => {
    const h = await harness();
    const invalid = async (scope: string[], data: RegExp) =>
      assert.rejects(
        issueTokenForClient(h.deps, creds(h, scope)),
        (err: unknown) => err instanceof AppError && err.code === "rpc.invalid_params" && data.test(String(err.data)),
      );
    await invalid(["user:read", "solution"], /^scope -> 1 -> /);
    await invalid(["expiresIn:0"], /^scope -> 0 -> /);
    await invalid([`expiresIn:${604_800_001}`], /^scope -> 0 -> expiresIn exceeds/);
    await invalid(["ipAddr:nowhere"], /^scope -> 0 -> /);
    await invalid(["session:"], /^scope -> 0 -> /);
  });

  it("expiresIn equal to the refresh lifetime is accepted", async () => {
    const h = await harness();
    const pair = await issueTokenForClient(h.deps, creds(h, ["pki:read", `expiresIn:${604_800_000}`]));
    assert.equal(pair.accessTokenExpiresIn, 604_800_000);
  });

  it("apikey's credential errors pass through: unknown key 71, wrong secret or disabled key 12", async () => {
    const h = await harness();
    await assert.rejects(issueTokenForClient(h.deps, creds(h, [], { clientId: "nobody" })), code("apikey.not_found"));
    await assert.rejects(
      issueTokenForClient(h.deps, creds(h, [], { clientSecret: "x".repeat(40) })),
      code("auth.invalid_credentials"),
    );
    const keyOff = await h.apikey.add({ enabled: false, maxScope: ALL, secret: SECRET });
    await assert.rejects(
      issueTokenForClient(h.deps, creds(h, [], { clientId: keyOff })),
      code("auth.invalid_credentials"),
    );
  });

  it("client_signature: HMAC and Ed25519 signatures over the grant string open a session; a replayed nonce is 12", async () => {
    const h = await harness();
    const keyEd = await h.apikey.add({ maxScope: ["pki:read"], publicKeyPem: ED_PUBLIC });
    const ts = h.clock.t;
    const hmac = hmacSignature(SECRET, grantSigningPayload(ts, "n1", "hello"));
    const grant = {
      type: "client_signature" as const,
      clientId: h.keyOne,
      signature: hmac,
      timestamp: ts,
      nonce: "n1",
      data: "hello",
      scope: ["pki:read"],
    };
    const pair = await issueTokenForClient(h.deps, grant);
    assert.deepEqual(pair.scope, ["pki:read"]);
    await assert.rejects(issueTokenForClient(h.deps, grant), code("auth.invalid_credentials"));
    const ed = ed25519Sign(ED_PRIVATE, grantSigningPayload(ts, "n2", undefined));
    const edPair = await issueTokenForClient(h.deps, {
      type: "client_signature",
      clientId: keyEd,
      signature: ed,
      timestamp: ts,
      nonce: "n2",
      scope: [],
    });
    assert.equal(edPair.apiKeyId, keyEd);
    await assert.rejects(
      issueTokenForClient(h.deps, {
        ...grant,
        nonce: "n3",
        signature: hmacSignature(SECRET, grantSigningPayload(ts, "n3", "other")),
      }),
      code("auth.invalid_credentials"),
    );
  });

  it("an invalid scope list is refused before the signature is checked, so its nonce stays unspent", async () => {
    const h = await harness();
    const ts = h.clock.t;
    const signature = hmacSignature(SECRET, grantSigningPayload(ts, "once", undefined));
    const grant = { type: "client_signature" as const, clientId: h.keyOne, signature, timestamp: ts, nonce: "once" };
    await assert.rejects(issueTokenForClient(h.deps, { ...grant, scope: ["bogus"] }), code("rpc.invalid_params"));
    assert.ok((await issueTokenForClient(h.deps, { ...grant, scope: [] })).accessToken);
  });

  it("client_signature: a nonce outside the base64 alphabets is -32602 before the signature is checked", async () => {
    const h = await harness();
    const ts = h.clock.t;
    // Signed as nonce `n1` with data `x;\n\ny`: the same bytes as nonce `n1;\n\nx` with data `y`.
    const signature = hmacSignature(SECRET, grantSigningPayload(ts, "n1", "x;\n\ny"));
    const grant = { type: "client_signature" as const, clientId: h.keyOne, signature, timestamp: ts, scope: [] };
    const invalid = (message: string) => (err: unknown) =>
      err instanceof AppError && err.code === "rpc.invalid_params" && err.data === message;
    await assert.rejects(
      issueTokenForClient(h.deps, { ...grant, nonce: "n1;\n\nx", data: "y" }),
      invalid("nonce -> Invalid characters! Expected only A-Z a-z 0-9 + / = _ -"),
    );
    await assert.rejects(
      issueTokenForClient(h.deps, { ...grant, nonce: "", data: "x;\n\ny" }),
      invalid("nonce -> Invalid length! Expected min 1, get 0"),
    );
    assert.ok((await issueTokenForClient(h.deps, { ...grant, nonce: "n1", data: "x;\n\ny" })).accessToken);
  });

  it("bounds the scope list with the contract's fields, as the gateway does", async () => {
    const h = await harness();
    const invalid = (message: string) => (err: unknown) =>
      err instanceof AppError && err.code === "rpc.invalid_params" && err.data === message;
    const long = `session:${"s".repeat(fields.MAX_SCOPE_ENTRY_LENGTH - 7)}`;
    await assert.rejects(
      issueTokenForClient(h.deps, creds(h, ["pki:read", long])),
      invalid(`scope -> 1 -> Invalid length! Expected max ${fields.MAX_SCOPE_ENTRY_LENGTH}, get 257`),
    );
    const many = Array.from({ length: fields.MAX_SCOPE_ENTRIES + 1 }, () => "pki:read");
    await assert.rejects(
      issueTokenForClient(h.deps, creds(h, many)),
      invalid(`scope -> Invalid length! Expected max ${fields.MAX_SCOPE_ENTRIES}, get 129`),
    );
    await assert.rejects(
      issueTokenForClient(h.deps, {
        type: "client_signature",
        clientId: h.keyOne,
        signature: "s",
        timestamp: -1,
        nonce: "n1",
        scope: [],
      }),
      invalid("timestamp -> Invalid value! Expected min 0, get -1"),
    );
  });

  it("each grant opens a session and announces it", async () => {
    const h = await harness();
    const a = await issueTokenForClient(h.deps, creds(h, []));
    const b = await issueTokenForClient(h.deps, creds(h, []));
    assert.notEqual(a.sessionId, b.sessionId);
    assert.equal((await h.sessions.listLive(h.keyOne, h.clock.t)).length, 2);
    assert.deepEqual(
      h.events.log.filter((e) => e.type === "opened").map((e) => (e.type === "opened" ? e.session.id : "")),
      [a.sessionId, b.sessionId],
    );
  });
});
