import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials } from "@grpc/grpc-js";
import { buildApp, loadConfig } from "@pkiserver/apikey";
import {
  AppError,
  type BusMessage,
  type Caller,
  type CallOptions,
  createClient,
  createLogger,
  decodeEvent,
  Events,
  ed25519Sign,
  hmacSignature,
  MemoryEventBus,
  requestSigningPayload,
  type ServiceApp,
} from "@pkiserver/kit";
import { apikeyV1 } from "@pkiserver/proto";
import { DevCertificateAuthority, freePort } from "@pkiserver/server";
import { testTokens } from "@pkiserver/testing";

const TOKEN = "grpc-test-initialization-token";
const SECRET = "a-client-secret-of-more-than-32-characters";
const ALL = ["user:read_write", "pki:read_write", "pkiadmin:read_write"];
const PRIVATE_PEM =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOBVFGaSFtfqbNvZWctFKg3k+I0T5YXRavpKAD9+BgCX\n-----END PRIVATE KEY-----\n";
const PUBLIC_PEM =
  "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEADsSTjY2wnm1iwWamIWwLTPVhtTIb8TVlI8tts3wkhkQ=\n-----END PUBLIC KEY-----\n";

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    return err;
  }
  throw new Error("expected the call to fail");
}

describe("apikey gRPC service (in-memory stores)", () => {
  let app: ServiceApp;
  let bus: MemoryEventBus;
  let client: ReturnType<typeof createClient<apikeyV1.ApiKeyServiceServer>>;
  const received: BusMessage[] = [];
  const access = testTokens();
  let all: Caller;
  let userOnly: Caller;
  /** The client, every call made as `caller` (its token sent as a Bearer credential). */
  const as = (caller: Caller): typeof client.client =>
    new Proxy(client.client, {
      get: (target, name) => {
        const method = Reflect.get(target, name) as (req: unknown, opts?: CallOptions) => Promise<unknown>;
        return (req: unknown, opts: CallOptions = {}) => method(req, { ...opts, caller });
      },
    });

  before(async () => {
    bus = new MemoryEventBus();
    await bus.subscribe({
      subjects: ["apikey.v1.>"],
      deliver: "new",
      handler: async (msg) => {
        received.push(msg);
      },
    });
    app = await buildApp(loadConfig({ PMX_INITIALIZATION_TOKEN: TOKEN }), {
      logger: createLogger({ name: "apikey-test", level: "silent" }),
      bus,
      listen: { host: "127.0.0.1", port: 0 },
      tokens: access.tokens,
    });
    all = (await access.sign(ALL)).caller;
    userOnly = (await access.sign(["user:read_write"])).caller;
    client = createClient<apikeyV1.ApiKeyServiceServer>(
      apikeyV1.ApiKeyServiceService,
      apikeyV1.ApiKeyServiceClient.serviceName,
      app.grpc.address,
    );
    await client.waitForReady(5000);
  });

  after(async () => {
    client.close();
    await app.stop();
    await bus.close();
  });

  it("listens on a free port and reports ready", async () => {
    assert.ok(app.grpc.port > 0);
    assert.equal(await app.isReady(), true);
  });

  it("creates the first key once, refusing a bad token with 97 and a second call with 96", async () => {
    const c = as(all);
    assert.equal((await rejection(c.createFirstApiKey({ initializationToken: "wrong", name: "" }))).rpcCode, 97);
    const first = await c.createFirstApiKey({ initializationToken: TOKEN, name: "root" });
    assert.ok(first.apiKeySecret.length >= 32);
    assert.equal((await rejection(c.createFirstApiKey({ initializationToken: TOKEN, name: "" }))).rpcCode, 96);
    const verified = await c.verifySecret({ apiKeyId: first.apiKeyId, secret: first.apiKeySecret });
    assert.equal(verified.apiKey?.type, apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET);
    assert.equal(verified.apiKey?.maxScope.length, 8);
    assert.equal(
      (await rejection(c.verifySecret({ apiKeyId: first.apiKeyId, secret: `${first.apiKeySecret}x` }))).rpcCode,
      12,
    );
  });

  it("adds, reads, updates and deletes keys, announcing each change", async () => {
    const c = as(all);
    const { apiKeyId } = await c.addApiKey({
      name: "ci",
      type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
      clientSecret: SECRET,
      maxScope: ["user:read_write"],
    });
    const got = await c.getApiKey({ apiKeyId });
    assert.deepEqual(got.apiKey?.maxScope, ["user:read", "user:write"]);
    assert.equal(got.apiKey?.clientPublicKey, undefined);
    assert.ok(!JSON.stringify(await c.listApiKeys({})).includes(SECRET));

    const kept = await c.updateApiKey({ apiKeyId, name: "renamed" });
    assert.deepEqual(kept.apiKey?.maxScope, ["user:read", "user:write"]);
    const emptied = await c.updateApiKey({ apiKeyId, enabled: false, maxScope: { scopes: [] } });
    assert.deepEqual(emptied.apiKey?.maxScope, []);
    assert.equal(emptied.apiKey?.enabled, false);

    await c.deleteApiKey({ apiKeyId });
    assert.equal((await rejection(c.getApiKey({ apiKeyId }))).rpcCode, 71);
    assert.equal((await rejection(c.deleteApiKey({ apiKeyId }))).rpcCode, 71);

    await new Promise((r) => setTimeout(r, 50));
    const mine = received.filter((m) => {
      const id =
        decodeEvent(Events.apiKeyCreated, m)?.apiKeyId ??
        decodeEvent(Events.apiKeyUpdated, m)?.apiKeyId ??
        decodeEvent(Events.apiKeyDeleted, m)?.apiKeyId;
      return id === apiKeyId;
    });
    assert.deepEqual(
      mine.map((m) => m.subject),
      [
        Events.apiKeyCreated.subject,
        Events.apiKeyUpdated.subject,
        Events.apiKeyUpdated.subject,
        Events.apiKeyDeleted.subject,
      ],
    );
    const disabling = mine[2] && decodeEvent(Events.apiKeyUpdated, mine[2]);
    assert.equal(disabling?.previousEnabled, true);
    assert.deepEqual(disabling?.previousMaxScope, ["user:read", "user:write"]);
    assert.equal(disabling?.enabled, false);
  });

  it("carries validation errors and their detail over the wire", async () => {
    const c = as(all);
    const short = await rejection(
      c.addApiKey({
        name: "",
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
        clientSecret: "short",
        maxScope: [],
      }),
    );
    assert.equal(short.rpcCode, -32602);
    assert.equal(short.data, "clientSecret -> Invalid length! Expected min 32, get 5");
    const priv = await rejection(
      c.addApiKey({
        name: "",
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY,
        clientPublicKey: PRIVATE_PEM,
        maxScope: [],
      }),
    );
    assert.equal(priv.rpcCode, -32602);
    assert.match(String(priv.data), /^clientPubKey -> /);
    const modifier = await rejection(
      c.addApiKey({
        name: "",
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
        clientSecret: SECRET,
        maxScope: ["expiresIn:100"],
      }),
    );
    assert.equal(modifier.rpcCode, -32602);
    // The caller's own scopes bound the new key's: a user:write caller cannot mint a pkiadmin key.
    const scope = await rejection(
      as(userOnly).addApiKey({
        name: "",
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
        clientSecret: SECRET,
        maxScope: ["pkiadmin:write"],
      }),
    );
    assert.equal(scope.rpcCode, 73);
  });

  it("verifies signatures of both key types and refuses a replay with 12", async () => {
    const c = as(all);
    const secretKey = await c.addApiKey({
      name: "",
      type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
      clientSecret: SECRET,
      maxScope: ["pki:read"],
    });
    const pubKey = await c.addApiKey({
      name: "",
      type: apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY,
      clientPublicKey: PUBLIC_PEM,
      maxScope: [],
    });
    const timestamp = Date.now();
    const payload = requestSigningPayload(timestamp, "n1", "POST", "/main", "{}");
    const hmac = { apiKeyId: secretKey.apiKeyId, timestamp, nonce: "n1", payload, signature: "" };
    hmac.signature = hmacSignature(SECRET, payload);
    assert.equal((await c.verifySignature(hmac)).apiKey?.apiKeyId, secretKey.apiKeyId);
    assert.equal((await rejection(c.verifySignature(hmac))).rpcCode, 12);
    const signed = {
      apiKeyId: pubKey.apiKeyId,
      timestamp,
      nonce: "n1",
      payload,
      signature: ed25519Sign(PRIVATE_PEM, payload),
    };
    assert.equal((await c.verifySignature(signed)).apiKey?.clientPublicKey?.includes("BEGIN PUBLIC KEY"), true);
    const stale = requestSigningPayload(timestamp - 11 * 60_000, "n2", "POST", "/main", "{}");
    assert.equal(
      (
        await rejection(
          c.verifySignature({
            apiKeyId: secretKey.apiKeyId,
            timestamp: timestamp - 11 * 60_000,
            nonce: "n2",
            payload: stale,
            signature: hmacSignature(SECRET, stale),
          }),
        )
      ).rpcCode,
      12,
    );
    assert.equal((await rejection(c.verifySignature({ ...hmac, apiKeyId: "0123456789abcdef01234567" }))).rpcCode, 71);
  });

  it("refuses the 11th key with 72", async () => {
    const c = as(all);
    const existing = (await c.listApiKeys({})).apiKeys.length;
    for (let i = existing; i < 10; i++) {
      await c.addApiKey({
        name: `k${i}`,
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
        clientSecret: SECRET,
        maxScope: [],
      });
    }
    const err = await rejection(
      c.addApiKey({
        name: "one too many",
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
        clientSecret: SECRET,
        maxScope: [],
      }),
    );
    assert.equal(err.rpcCode, 72);
  });
});

describe("apikey gRPC service: every call is authenticated", () => {
  let app: ServiceApp;
  let bus: MemoryEventBus;
  let client: ReturnType<typeof createClient<apikeyV1.ApiKeyServiceServer>>;
  const access = testTokens();
  const newKey = (maxScope: string[]) => ({
    name: "k",
    type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
    clientSecret: SECRET,
    maxScope,
  });

  before(async () => {
    bus = new MemoryEventBus();
    app = await buildApp(loadConfig({ PMX_INITIALIZATION_TOKEN: TOKEN }), {
      logger: createLogger({ name: "apikey-test", level: "silent" }),
      bus,
      listen: { host: "127.0.0.1", port: 0 },
      tokens: access.tokens,
    });
    client = createClient<apikeyV1.ApiKeyServiceServer>(
      apikeyV1.ApiKeyServiceService,
      apikeyV1.ApiKeyServiceClient.serviceName,
      app.grpc.address,
    );
  });

  after(async () => {
    client.close();
    await app.stop();
    await bus.close();
  });

  it("refuses AddApiKey without credentials with UNAUTHENTICATED (14)", async () => {
    const err = await rejection(client.client.addApiKey(newKey(["pkiadmin:read_write"])));
    assert.equal(err.code, "auth.unauthorized");
    assert.equal(err.rpcCode, 14);
    // The caller's scope cannot be stated beside the request: an unknown field is no credential.
    assert.equal((await rejection(client.client.listApiKeys({}))).rpcCode, 14);
  });

  it("refuses a token without the RPC's scope with PERMISSION_DENIED (73), and accepts one with it", async () => {
    const reader = (await access.sign(["pki:read", "user:read"])).caller;
    assert.equal((await rejection(client.client.addApiKey(newKey([]), { caller: reader }))).rpcCode, 73);
    assert.ok((await client.client.listApiKeys({}, { caller: reader })).apiKeys.length >= 0);
    const writer = (await access.sign(["user:read_write", "pki:read"])).caller;
    const { apiKeyId } = await client.client.addApiKey(newKey(["pki:read"]), { caller: writer });
    assert.ok(apiKeyId.length > 0);
    // The key may not exceed the scopes of the token that created it.
    assert.equal((await rejection(client.client.addApiKey(newKey(["pkiadmin:read"]), { caller: writer }))).rpcCode, 73);
  });

  it("refuses forged, expired and revoked tokens", async () => {
    const forged = await access.sign(["user:read_write"], { forged: true });
    assert.equal(
      (await rejection(client.client.listApiKeys({}, { caller: forged.caller }))).code,
      "auth.token_invalid",
    );
    const expired = await access.sign(["user:read_write"], { lifetimeMs: -1000 });
    assert.equal(
      (await rejection(client.client.listApiKeys({}, { caller: expired.caller }))).code,
      "auth.token_expired",
    );
    const revoked = await access.sign(["user:read_write"]);
    await client.client.listApiKeys({}, { caller: revoked.caller });
    access.revocations.revokeSession(revoked.sessionId, { apiKeyId: "caller-key" });
    assert.equal(
      (await rejection(client.client.listApiKeys({}, { caller: revoked.caller }))).code,
      "auth.token_expired",
    );
    const garbage = { apiKeyId: "x", scopes: ["user:read"], token: "not.a.token" };
    assert.equal((await rejection(client.client.listApiKeys({}, { caller: garbage }))).rpcCode, 76);
  });

  it("keeps the RPCs that check a presented secret callable without credentials", async () => {
    assert.equal(
      (await rejection(client.client.verifySecret({ apiKeyId: "0123456789abcdef01234567", secret: SECRET }))).rpcCode,
      71,
    );
    // Reached without credentials, the use case answers: the first key exists already (96), not 14.
    assert.equal(
      (await rejection(client.client.createFirstApiKey({ initializationToken: TOKEN, name: "" }))).rpcCode,
      96,
    );
  });
});

describe("apikey gRPC service over mutual TLS", () => {
  let app: ServiceApp;
  let bus: MemoryEventBus;
  const ca = DevCertificateAuthority.create("test CA");
  const server = ca.issue("apikey");
  const tlsOf = (authority: DevCertificateAuthority, pair: { cert: string; key: string }) => ({
    cert: Buffer.from(pair.cert),
    key: Buffer.from(pair.key),
    ca: Buffer.from(authority.cert),
  });
  const clients: { close(): void }[] = [];
  const connect = (opts: Parameters<typeof createClient>[4], creds?: Parameters<typeof createClient>[3]) => {
    const c = createClient<apikeyV1.ApiKeyServiceServer>(
      apikeyV1.ApiKeyServiceService,
      apikeyV1.ApiKeyServiceClient.serviceName,
      `localhost:${app.grpc.port}`,
      creds,
      opts,
    );
    clients.push(c);
    return c.client;
  };

  before(async () => {
    bus = new MemoryEventBus();
    const config = { ...loadConfig({ PMX_INITIALIZATION_TOKEN: TOKEN }), grpcTls: tlsOf(ca, server) };
    app = await buildApp(config, {
      logger: createLogger({ name: "apikey-test", level: "silent" }),
      bus,
      listen: { host: "127.0.0.1", port: 0 },
      tokens: testTokens().tokens,
    });
  });

  after(async () => {
    for (const c of clients) c.close();
    await app.stop();
    await bus.close();
  });

  it("admits a client whose certificate the CA issued, as an internal component or for the caller it states", async () => {
    const c = connect({ tls: tlsOf(ca, ca.issue("gateway")) });
    // Stating no caller, the component acts for itself.
    const { apiKeyId } = await c.addApiKey(
      { name: "k", type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET, clientSecret: SECRET, maxScope: ["pkiadmin:read"] },
      { timeoutMs: 5000 },
    );
    assert.ok(apiKeyId.length > 0);
    // Stating a caller, the caller's scopes apply.
    const stated = { apiKeyId: "someone", scopes: ["pki:read"] };
    assert.equal((await rejection(c.listApiKeys({}, { caller: stated, timeoutMs: 5000 }))).rpcCode, 73);
  });

  it("refuses a client without a certificate, and one whose certificate another CA issued", async () => {
    const noCert = connect({}, credentials.createSsl(Buffer.from(ca.cert)));
    assert.equal((await rejection(noCert.listApiKeys({}, { timeoutMs: 3000 }))).code, "rpc.unavailable");
    const other = DevCertificateAuthority.create("another CA");
    const foreign = connect({ tls: { ...tlsOf(other, other.issue("intruder")), ca: Buffer.from(ca.cert) } });
    assert.equal((await rejection(foreign.listApiKeys({}, { timeoutMs: 3000 }))).code, "rpc.unavailable");
    const plain = connect({});
    assert.equal((await rejection(plain.listApiKeys({}, { timeoutMs: 3000 }))).code, "rpc.unavailable");
  });
});

describe("apikey service readiness", () => {
  it("is not ready while its own follower of auth has not loaded auth's keys and revocations", async () => {
    // A port nothing listens on: the follower keeps retrying, and every Bearer call would be refused with -32000.
    const port = await freePort();
    const bus = new MemoryEventBus();
    const app = await buildApp(loadConfig({ PMX_INITIALIZATION_TOKEN: TOKEN, PMX_AUTH_ADDR: `127.0.0.1:${port}` }), {
      logger: createLogger({ name: "apikey-test", level: "silent" }),
      bus,
      listen: { host: "127.0.0.1", port: 0 },
    });
    try {
      assert.equal(await app.isReady(), false);
    } finally {
      await app.stop();
      await bus.close();
    }
  });
});
