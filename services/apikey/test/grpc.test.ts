import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildApp, loadConfig } from "@pkiserver/apikey";
import {
  AppError,
  type BusMessage,
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
    });
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
    const c = client.client;
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
    const c = client.client;
    const { apiKeyId } = await c.addApiKey({
      name: "ci",
      type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
      clientSecret: SECRET,
      maxScope: ["user:read_write"],
      callerScope: ALL,
    });
    const got = await c.getApiKey({ apiKeyId });
    assert.deepEqual(got.apiKey?.maxScope, ["user:read", "user:write"]);
    assert.equal(got.apiKey?.clientPublicKey, undefined);
    assert.ok(!JSON.stringify(await c.listApiKeys({})).includes(SECRET));

    const kept = await c.updateApiKey({ apiKeyId, name: "renamed", callerScope: ALL });
    assert.deepEqual(kept.apiKey?.maxScope, ["user:read", "user:write"]);
    const emptied = await c.updateApiKey({ apiKeyId, enabled: false, maxScope: { scopes: [] }, callerScope: ALL });
    assert.deepEqual(emptied.apiKey?.maxScope, []);
    assert.equal(emptied.apiKey?.enabled, false);

    await c.deleteApiKey({ apiKeyId, callerScope: ALL });
    assert.equal((await rejection(c.getApiKey({ apiKeyId }))).rpcCode, 71);
    assert.equal((await rejection(c.deleteApiKey({ apiKeyId, callerScope: ALL }))).rpcCode, 71);

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
    const c = client.client;
    const short = await rejection(
      c.addApiKey({
        name: "",
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
        clientSecret: "short",
        maxScope: [],
        callerScope: ALL,
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
        callerScope: ALL,
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
        callerScope: ALL,
      }),
    );
    assert.equal(modifier.rpcCode, -32602);
    const scope = await rejection(
      c.addApiKey({
        name: "",
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
        clientSecret: SECRET,
        maxScope: ["pkiadmin:write"],
        callerScope: ["pki:read"],
      }),
    );
    assert.equal(scope.rpcCode, 73);
  });

  it("verifies signatures of both key types and refuses a replay with 12", async () => {
    const c = client.client;
    const secretKey = await c.addApiKey({
      name: "",
      type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
      clientSecret: SECRET,
      maxScope: ["pki:read"],
      callerScope: ALL,
    });
    const pubKey = await c.addApiKey({
      name: "",
      type: apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY,
      clientPublicKey: PUBLIC_PEM,
      maxScope: [],
      callerScope: ALL,
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
    const c = client.client;
    const existing = (await c.listApiKeys({})).apiKeys.length;
    for (let i = existing; i < 10; i++) {
      await c.addApiKey({
        name: `k${i}`,
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
        clientSecret: SECRET,
        maxScope: [],
        callerScope: ALL,
      });
    }
    const err = await rejection(
      c.addApiKey({
        name: "one too many",
        type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
        clientSecret: SECRET,
        maxScope: [],
        callerScope: ALL,
      }),
    );
    assert.equal(err.rpcCode, 72);
  });
});
