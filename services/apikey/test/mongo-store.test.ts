import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  buildApp,
  ensureApiKeyIndexes,
  ensureNonceIndexes,
  loadConfig,
  MongoApiKeyStore,
  MongoNonceStore,
} from "@pkiserver/apikey";
import { apiKeyStoreContract } from "@pkiserver/apikey/store-contract";
import { connectMongo, createClient, createLogger, MemoryEventBus, type MongoHandle } from "@pkiserver/kit";
import { apikeyV1 } from "@pkiserver/proto";
import { getInfra } from "@pkiserver/test-harness";
import { testTokens } from "@pkiserver/testing";

let primary: MongoHandle | undefined;
let replica: MongoHandle | undefined;
let dbName = "";

async function handles(): Promise<{ primary: MongoHandle; replica: MongoHandle }> {
  if (!primary || !replica) {
    const infra = await getInfra();
    dbName = infra.freshName("apikey_store");
    primary = await connectMongo(infra.mongoUrl, dbName);
    // A second client stands for another replica of the service.
    replica = await connectMongo(infra.mongoUrl, dbName);
  }
  return { primary, replica };
}

after(async () => {
  await primary?.db.dropDatabase().catch(() => undefined);
  await primary?.close();
  await replica?.close();
});

apiKeyStoreContract("mongodb", async () => {
  const h = await handles();
  await h.primary.db.dropDatabase();
  await ensureApiKeyIndexes(h.primary.db);
  await ensureNonceIndexes(h.primary.db);
  return {
    keys: new MongoApiKeyStore(h.primary.db),
    nonces: new MongoNonceStore(h.primary.db),
    replica: { keys: new MongoApiKeyStore(h.replica.db), nonces: new MongoNonceStore(h.replica.db) },
  };
});

describe("apikey service on MongoDB", () => {
  let mongo: MongoHandle;
  const secretKey = `k1:${randomBytes(32).toString("base64")}`;
  const token = "mongo-test-initialization-token";

  before(async () => {
    const infra = await getInfra();
    mongo = await connectMongo(infra.mongoUrl, infra.freshName("apikey_app"));
  });

  after(async () => {
    await mongo.db.dropDatabase().catch(() => undefined);
    await mongo.close();
  });

  it("keeps only the sealed secret in the database, and verifies it after a restart with the same key", async () => {
    const env = { PMX_INITIALIZATION_TOKEN: token, PMX_SECRET_KEY: secretKey, PMX_MONGO_URL: "mongodb://unused" };
    const deps = {
      logger: createLogger({ name: "apikey-test", level: "silent" }),
      bus: new MemoryEventBus(),
      mongo,
      listen: { host: "127.0.0.1", port: 0 },
      // A verifier with its keys and revocations loaded: readiness here is the store's.
      tokens: testTokens().tokens,
    };
    const app = await buildApp(loadConfig(env), deps);
    const c = createClient<apikeyV1.ApiKeyServiceServer>(
      apikeyV1.ApiKeyServiceService,
      apikeyV1.ApiKeyServiceClient.serviceName,
      app.grpc.address,
    );
    const first = await c.client.createFirstApiKey({ initializationToken: token, name: "root" });
    c.close();
    await app.stop();

    const raw = await mongo.db.collection("api_keys").find({}).toArray();
    assert.equal(raw.length, 1);
    assert.ok(!JSON.stringify(raw).includes(first.apiKeySecret));

    // Building again runs the index creation a second time and reads what the first run stored.
    const again = await buildApp(loadConfig(env), deps);
    const c2 = createClient<apikeyV1.ApiKeyServiceServer>(
      apikeyV1.ApiKeyServiceService,
      apikeyV1.ApiKeyServiceClient.serviceName,
      again.grpc.address,
    );
    const verified = await c2.client.verifySecret({ apiKeyId: first.apiKeyId, secret: first.apiKeySecret });
    assert.equal(verified.apiKey?.name, "root");
    assert.equal(await again.isReady(), true);
    c2.close();
    await again.stop();
  });
});
