import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildApp, createAccessTokenVerifier, loadConfig } from "@pkiserver/auth";
import {
  AppError,
  createClient,
  createLogger,
  decodeEvent,
  Events,
  grantSigningPayload,
  hmacSignature,
  MemoryEventBus,
  type ServiceApp,
} from "@pkiserver/kit";
import { authV1 } from "@pkiserver/proto";
import { startApiKeyService, type TestApiKeyService } from "@pkiserver/testing";

const SECRET = "myverylongandsecuresecretforapikey";
const ALL = ["user:read_write", "pki:read_write", "pkiadmin:read_write"];

const code = (c: string) => (err: unknown) => err instanceof AppError && err.code === c;

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("auth over gRPC (buildApp on port 0, the real apikey beside it)", () => {
  let apikey: TestApiKeyService;
  let keyOne = "";
  let keyNarrow = "";
  const bus = new MemoryEventBus();
  const seen: string[] = [];
  let app: ServiceApp;
  let auth: ReturnType<typeof createClient<authV1.AuthServiceServer>>;

  const credentials = (scope: string[] = [], clientId = keyOne) => ({
    grant: { $case: "clientCredentials" as const, value: { clientId, clientSecret: SECRET, scope } },
    clientIp: "192.0.2.10",
  });
  const refresh = (refreshToken: string, clientIp = "192.0.2.10") => ({
    grant: { $case: "refreshToken" as const, value: { refreshToken } },
    clientIp,
  });

  before(async () => {
    // Its key events reach auth on the shared bus.
    apikey = await startApiKeyService({ bus });
    keyOne = (await apikey.addKey({ maxScope: ALL, secret: SECRET })).apiKeyId;
    keyNarrow = (await apikey.addKey({ maxScope: ["pki:read"], secret: SECRET })).apiKeyId;
    await bus.subscribe({
      subjects: ["auth.v1.>"],
      deliver: "all",
      handler: async (msg) => {
        seen.push(msg.subject);
      },
    });
    // Auth calls apikey over mutual TLS (a certificate of apikey's CA), and serves with it.
    app = await buildApp(loadConfig(apikey.tlsEnv), {
      logger: createLogger({ name: "auth-test", level: "silent" }),
      bus,
      listen: { host: "127.0.0.1", port: 0 },
      apikey: apikey.address,
    });
    auth = createClient<authV1.AuthServiceServer>(
      authV1.AuthServiceService,
      authV1.AuthServiceClient.serviceName,
      app.grpc.address,
      undefined,
      { tls: apikey.tls },
    );
    await auth.waitForReady(5000);
  });

  after(async () => {
    auth.close();
    await app.stop();
    await apikey.stop();
    await bus.close();
  });

  it("issues a pair a gateway verifies locally with the published signing keys", async () => {
    const { token } = await auth.client.issueToken(credentials(["user:read_write", "session:ops"]));
    assert.ok(token);
    assert.equal(token.tokenType, "Bearer");
    assert.deepEqual(token.scope, ["user:read", "user:write"]);
    assert.equal(token.sessionName, "ops");
    assert.equal(token.apiKeyId, keyOne);
    assert.equal(token.generation, 0);
    assert.equal(token.accessTokenExpiresIn, 900_000);
    assert.equal(token.refreshTokenExpiresIn, 604_800_000);
    assert.ok(token.accessToken.length <= 1024 && token.refreshToken.length <= 1024);
    const { keys } = await auth.client.getSigningKeys({});
    assert.ok(keys.length >= 1 && keys.every((k) => k.verifyUntil > Date.now()));
    const verifier = createAccessTokenVerifier();
    verifier.setKeys(keys);
    const claims = await verifier.verify(token.accessToken);
    assert.equal(claims.sessionId, token.sessionId);
    assert.deepEqual(claims.scope, ["user:read", "user:write"]);
    const { claims: introspected } = await auth.client.introspectToken({ accessToken: token.accessToken });
    assert.equal(introspected?.sessionId, token.sessionId);
    assert.equal(introspected?.expiresAt, claims.expiresAt);
    await eventually(async () => seen.includes(Events.sessionOpened.subject));
  });

  it("passes apikey's errors through and maps its own: 71, 12, 73, -32602", async () => {
    await assert.rejects(auth.client.issueToken(credentials([], "key-nobody")), code("apikey.not_found"));
    await assert.rejects(
      auth.client.issueToken({
        grant: { $case: "clientCredentials", value: { clientId: keyOne, clientSecret: "w".repeat(34), scope: [] } },
        clientIp: "",
      }),
      code("auth.invalid_credentials"),
    );
    await assert.rejects(
      auth.client.issueToken(credentials(["user:read"], keyNarrow)),
      code("auth.insufficient_scope"),
    );
    await assert.rejects(
      auth.client.issueToken(credentials(["user:read", "nope"])),
      (err: unknown) =>
        code("rpc.invalid_params")(err) && (err as AppError).data === "scope -> 1 -> Unknown scope 'nope'",
    );
    await assert.rejects(auth.client.issueToken({ clientIp: "" }), code("rpc.invalid_params"));
  });

  it("client_signature with an HMAC over the grant string opens a session", async () => {
    const timestamp = Date.now();
    const signature = hmacSignature(SECRET, grantSigningPayload(timestamp, "nonce-1", "payload"));
    const { token } = await auth.client.issueToken({
      grant: {
        $case: "clientSignature",
        value: { clientId: keyOne, signature, timestamp, nonce: "nonce-1", data: "payload", scope: ["pki:read"] },
      },
      clientIp: "",
    });
    assert.deepEqual(token?.scope, ["pki:read"]);
  });

  it("refresh rotates; the old access token is refused by introspection; reuse ends the session", async () => {
    const first = (await auth.client.issueToken(credentials(["pki:read"]))).token;
    assert.ok(first);
    const second = (await auth.client.issueToken(refresh(first.refreshToken))).token;
    assert.equal(second?.generation, 1);
    assert.equal(second?.sessionId, first.sessionId);
    await assert.rejects(auth.client.introspectToken({ accessToken: first.accessToken }), code("auth.token_expired"));
    const { generations } = await auth.client.listRevocations({});
    assert.ok(generations.some((g) => g.sessionId === first.sessionId && g.generation === 1));
    await assert.rejects(auth.client.issueToken(refresh(first.refreshToken)), code("auth.token_expired"));
    await assert.rejects(auth.client.issueToken(refresh(second?.refreshToken ?? "")), code("auth.token_expired"));
    const { revoked } = await auth.client.listRevocations({});
    assert.ok(revoked.some((r) => r.sessionId === first.sessionId && r.apiKeyId === keyOne));
    await assert.rejects(auth.client.issueToken(refresh("garbage")), code("auth.token_invalid"));
    await eventually(
      async () => seen.includes(Events.sessionRotated.subject) && seen.includes(Events.sessionRevoked.subject),
    );
  });

  it("an ipAddr-bound session refreshes only from its IP", async () => {
    const { token } = await auth.client.issueToken(credentials(["pki:read", "ipAddr:198.51.100.4"]));
    assert.ok(token);
    await assert.rejects(
      auth.client.issueToken(refresh(token.refreshToken, "198.51.100.5")),
      code("auth.token_invalid"),
    );
    assert.equal((await auth.client.issueToken(refresh(token.refreshToken, "198.51.100.4"))).token?.generation, 1);
  });

  it("forks a named session keeping the source's restrictions; lists and revokes sessions (74 when unknown)", async () => {
    const source = (await auth.client.issueToken(credentials(["pki:read", "expiresIn:30000"], keyNarrow))).token;
    assert.ok(source);
    const fork = (
      await auth.client.forkToken({ refreshToken: source.refreshToken, sessionName: "child", clientIp: "" })
    ).token;
    assert.equal(fork?.sessionName, "child");
    assert.equal(fork?.accessTokenExpiresIn, 30_000);
    const { sessions } = await auth.client.listSessions({ apiKeyId: keyNarrow });
    assert.deepEqual(sessions.map((s) => s.sessionId).sort(), [source.sessionId, fork?.sessionId].sort());
    await auth.client.revokeSession({ sessionId: source.sessionId });
    await assert.rejects(auth.client.revokeSession({ sessionId: source.sessionId }), code("auth.session_not_found"));
    await assert.rejects(auth.client.introspectToken({ accessToken: source.accessToken }), code("auth.token_expired"));
    assert.ok((await auth.client.introspectToken({ accessToken: fork?.accessToken ?? "" })).claims);
  });

  it("an apikey event disabling a key revokes its sessions", async () => {
    const doomed = (await apikey.addKey({ maxScope: ALL, secret: SECRET, name: "doomed" })).apiKeyId;
    const { token } = await auth.client.issueToken(credentials([], doomed));
    assert.ok(token);
    const revokedSubjects: string[] = [];
    await bus.subscribe({
      subjects: [Events.sessionRevoked.subject],
      deliver: "new",
      handler: async (msg) => {
        const e = decodeEvent(Events.sessionRevoked, msg);
        if (e?.sessionId === token.sessionId) revokedSubjects.push(e.reason);
      },
    });
    // apikey disables the key and announces it.
    await apikey.client.updateApiKey({ apiKeyId: doomed, enabled: false });
    await eventually(async () => (await auth.client.listSessions({ apiKeyId: doomed })).sessions.length === 0);
    await assert.rejects(auth.client.introspectToken({ accessToken: token.accessToken }), code("auth.token_expired"));
    await eventually(async () => revokedSubjects.length === 1);
    assert.deepEqual(revokedSubjects, ["api_key_disabled"]);
    assert.equal(await app.isReady(), true);
  });
});
