import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  authStoreContract,
  buildApp,
  createAccessTokenVerifier,
  loadConfig,
  MongoSessionStore,
  MongoSigningKeyStore,
} from "@pkiserver/auth";
import {
  AppError,
  connectMongo,
  createClient,
  createLogger,
  MemoryEventBus,
  type MongoHandle,
  type ServiceApp,
} from "@pkiserver/kit";
import { authV1 } from "@pkiserver/proto";
import { getInfra } from "@pkiserver/test-harness";
import { FakeApiKeyServer } from "./fake-apikey";

let dbName: string | undefined;
let counter = 0;

async function connect(): Promise<MongoHandle> {
  const infra = await getInfra();
  dbName ??= infra.freshName("auth_store");
  return connectMongo(infra.mongoUrl, dbName);
}

// Fresh collections per test: the contract's tests reuse API-key ids.
authStoreContract("mongodb", async () => {
  const mongo = await connect();
  counter++;
  return {
    sessions: await MongoSessionStore.create(mongo.db, { purgeGraceMs: 0, collection: `sessions_${counter}` }),
    signingKeys: await MongoSigningKeyStore.create(mongo.db, { collection: `keys_${counter}` }),
    close: () => mongo.close(),
  };
});

const SECRET = "myverylongandsecuresecretforapikey";
const SECRET_KEY = `k1:${Buffer.alloc(32, 7).toString("base64")}`;

describe("two auth replicas on one MongoDB database", () => {
  const apikey = new FakeApiKeyServer();
  const bus = new MemoryEventBus();
  let mongo: MongoHandle;
  const apps: ServiceApp[] = [];
  const clients: ReturnType<typeof createClient<authV1.AuthServiceServer>>[] = [];

  before(async () => {
    mongo = await connect();
    await apikey.start();
    apikey.add({ apiKeyId: "key-one", enabled: true, maxScope: ["pki:read_write"], secret: SECRET });
    const config = loadConfig({ PMX_MONGO_URL: "mongodb://unused", PMX_SECRET_KEY: SECRET_KEY });
    for (const name of ["replica-a", "replica-b"]) {
      const app = await buildApp(config, {
        logger: createLogger({ name, level: "silent" }),
        bus,
        mongo,
        listen: { host: "127.0.0.1", port: 0 },
        apikey: apikey.address,
      });
      apps.push(app);
      const c = createClient<authV1.AuthServiceServer>(
        authV1.AuthServiceService,
        authV1.AuthServiceClient.serviceName,
        app.grpc.address,
      );
      clients.push(c);
    }
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const a of apps) await a.stop();
    await apikey.stop();
    await bus.close();
    await mongo.db.dropDatabase();
    await mongo.close();
  });

  it("share signing keys, stored with the private half sealed", async () => {
    const [a, b] = clients;
    assert.ok(a && b);
    const ka = (await a.client.getSigningKeys({})).keys.map((k) => k.kid).sort();
    const kb = (await b.client.getSigningKeys({})).keys.map((k) => k.kid).sort();
    assert.deepEqual(ka, kb);
    const docs = await mongo.db.collection("auth_signing_keys").find({}).toArray();
    assert.ok(docs.length >= 1);
    for (const d of docs) {
      assert.match(String(d.sealedPrivateJwk), /^v1\.k1\./);
      assert.ok(!String(d.sealedPrivateJwk).includes('"d"'));
    }
  });

  it("a pair issued by one replica verifies, refreshes and is detected as reused on the other", async () => {
    const [a, b] = clients;
    assert.ok(a && b);
    const { token } = await a.client.issueToken({
      grant: { $case: "clientCredentials", value: { clientId: "key-one", clientSecret: SECRET, scope: [] } },
      clientIp: "",
    });
    assert.ok(token);
    const verifier = createAccessTokenVerifier();
    verifier.setKeys((await b.client.getSigningKeys({})).keys);
    assert.equal((await verifier.verify(token.accessToken)).sessionId, token.sessionId);
    const grant = {
      grant: { $case: "refreshToken" as const, value: { refreshToken: token.refreshToken } },
      clientIp: "",
    };
    const results = await Promise.allSettled([a.client.issueToken(grant), b.client.issueToken(grant)]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    const failed = results.find((r) => r.status === "rejected");
    assert.ok(failed?.status === "rejected" && failed.reason instanceof AppError);
    assert.equal(failed.reason.code, "auth.token_expired");
    const { revoked } = await a.client.listRevocations({});
    assert.ok(revoked.some((r) => r.sessionId === token.sessionId));
  });
});
