import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  buildApp,
  createAccessTokenVerifier,
  loadConfig,
  MongoSessionStore,
  MongoSigningKeyStore,
  type Session,
} from "@pkiserver/auth";
import { authStoreContract } from "@pkiserver/auth/store-contract";
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
import { startApiKeyService, type TestApiKeyService } from "@pkiserver/testing";
import { type Db, type Document, MongoClient } from "mongodb";

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
  const collection = `sessions_${counter}`;
  const others: MongoHandle[] = [];
  return {
    sessions: await MongoSessionStore.create(mongo.db, { purgeGraceMs: 0, collection }),
    signingKeys: await MongoSigningKeyStore.create(mongo.db, { collection: `keys_${counter}` }),
    // A connection of its own, as another replica has.
    sameDatabase: async () => {
      const other = await connect();
      others.push(other);
      return MongoSessionStore.create(other.db, { purgeGraceMs: 0, collection });
    },
    close: async () => {
      for (const o of others) await o.close();
      await mongo.close();
    },
  };
});

describe("MongoDB session store: what a grant and a rotation cost", () => {
  const T0 = 1_750_000_000_000;
  let client: MongoClient;
  let db: Db;
  let store: MongoSessionStore;
  const finds: Document[] = [];
  /** Conditional updates of sessions (revocations, rotations) sent so far. */
  let sessionUpdates = 0;

  before(async () => {
    const infra = await getInfra();
    // Command monitoring shows the queries the store really sends.
    client = new MongoClient(infra.mongoUrl, { monitorCommands: true, retryWrites: false });
    client.on("commandStarted", (e) => {
      if (e.commandName === "find") finds.push(e.command);
      if (e.commandName === "findAndModify" && e.command.findAndModify === "auth_sessions") sessionUpdates++;
    });
    await client.connect();
    db = client.db(infra.freshName("auth_cost"));
    store = await MongoSessionStore.create(db, { purgeGraceMs: 0 });
  });

  after(async () => {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  });

  function session(n: number, apiKeyId: string): Session {
    const id = `s${String(n).padStart(21, "0")}`;
    return {
      id,
      apiKeyId,
      familyId: id,
      scope: ["pki:read"],
      accessLifetime: 900_000,
      createdAt: T0 + n,
      expiresAt: T0 + 86_400_000,
      generation: 0,
      refreshHash: `hash-${n}`,
    };
  }

  it("a session document does not grow with its rotations", async () => {
    const s = session(0, "key-rotating");
    await store.open(s, 16, T0);
    const size = async () =>
      JSON.stringify(await db.collection("auth_sessions").findOne({ _id: s.id as never })).length;
    let hash = s.refreshHash;
    const rotate = async (i: number) => {
      const next = `rotated-${String(i).padStart(4, "0")}`;
      const r = await store.rotate(s.id, hash, { refreshHash: next, expiresAt: T0 + 86_400_000 + i }, T0 + i);
      assert.equal(r.kind, "rotated");
      hash = next;
    };
    await rotate(1);
    const afterOne = await size();
    for (let i = 2; i <= 60; i++) await rotate(i);
    // Only the generation's digits may differ.
    assert.ok((await size()) <= afterOne + 2, `${await size()} bytes after 60 rotations, ${afterOne} after one`);
  });

  /** The find the store sends for a key's live sessions, once the key has closed many. */
  async function liveQuery(): Promise<{ find: string; filter: Document; hint?: Document | string }> {
    if ((await store.listLive("key-many", T0)).length === 0) {
      for (let i = 1; i <= 200; i++) await store.open(session(i, "key-many"), 16, T0 + i);
    }
    finds.length = 0;
    assert.equal((await store.listLive("key-many", T0 + 500)).length, 16);
    const query = finds.find((f) => (f.filter as Document | undefined)?.apiKeyId === "key-many");
    assert.ok(query, "listLive sends a find on the key");
    return query as { find: string; filter: Document; hint?: Document | string };
  }

  it("a session the cap closed before cap marks existed is still listed as revoked; one closed under the mark is not", async () => {
    const legacy = session(900, "key-legacy");
    await db.collection("auth_sessions").insertOne({
      _id: legacy.id as never,
      apiKeyId: legacy.apiKeyId,
      familyId: legacy.familyId,
      name: null,
      scope: legacy.scope,
      ipAddr: null,
      accessLifetime: legacy.accessLifetime,
      createdAt: legacy.createdAt,
      expiresAt: legacy.expiresAt,
      generation: 0,
      refreshHash: legacy.refreshHash,
      rotatedAt: null,
      revokedAt: T0 + 1000,
      revokeReason: "session_limit",
      purgeAt: new Date(legacy.expiresAt),
    });
    for (let i = 1; i <= 17; i++) await store.open(session(1000 + i, "key-legacy"), 16, T0 + 1000);
    const closed = session(1001, "key-legacy");
    assert.equal((await store.get(closed.id))?.revokeReason, "session_limit");
    const listed = (await store.listRevokedSince(T0 + 1000)).map((s) => s.id);
    assert.ok(listed.includes(legacy.id), "the one no mark stands for");
    assert.ok(!listed.includes(closed.id), "the one its key's mark covers");
    assert.equal((await store.capMark("key-legacy"))?.sessionId, closed.id);
  });

  it("revoked sessions leave the live collection, and still answer by id and in the lists of revocations", async () => {
    // 100 sessions closed by the cap and 16 by request: the moves run every 64 revocations, the purge takes the rest.
    for (let i = 1; i <= 116; i++) await store.open(session(2000 + i, "key-moving"), 16, T0 + 2000 + i);
    const byRequest = await store.revokeForKey("key-moving", "revoked_by_request", T0 + 3000, {
      createdUpTo: Number.MAX_SAFE_INTEGER,
    });
    assert.equal(byRequest.length, 16);
    await store.purgeExpired(0);
    const live = db.collection("auth_sessions");
    assert.equal(
      await live.countDocuments({ apiKeyId: "key-moving" }),
      0,
      "no revoked session left in the live collection",
    );
    assert.equal(await db.collection("auth_sessions_ended").countDocuments({ apiKeyId: "key-moving" }), 116);
    const capped = await store.get(session(2001, "key-moving").id);
    assert.equal(capped?.revokeReason, "session_limit");
    const requested = byRequest[0] as Session;
    assert.equal((await store.get(requested.id))?.revokedAt, T0 + 3000);
    // A refresh of a moved session is answered from the ended collection: refused, and known as revoked.
    const r = await store.rotate(
      requested.id,
      requested.refreshHash,
      { refreshHash: "next", expiresAt: T0 + 86_400_001 },
      T0 + 3001,
    );
    assert.equal(r.kind, "failed");
    assert.equal(r.session?.id, requested.id);
    const listed = new Set((await store.listRevokedSince(T0 + 3000)).map((s) => s.id));
    for (const s of byRequest) assert.ok(listed.has(s.id), `${s.id} listed as revoked by request`);
    assert.ok(!listed.has(session(2001, "key-moving").id), "a session the cap closed is covered by its key's mark");
    // A new session of the key still lands above the mark and stays open.
    assert.deepEqual(await store.open(session(2200, "key-moving"), 16, T0 + 3002), []);
    assert.equal((await store.listLive("key-moving", T0 + 3002)).length, 1);
  });

  it("concurrent opens of one key share its cap passes: each session the cap closes is closed and reported once", async () => {
    for (let i = 1; i <= 16; i++) await store.open(session(5000 + i, "key-busy"), 16, T0 + 5000 + i);
    const before = sessionUpdates;
    const opens = await Promise.all(
      Array.from({ length: 30 }, (_, i) => store.open(session(5100 + i, "key-busy"), 16, T0 + 5100)),
    );
    const closed = opens.flat().map((c) => c.id);
    // Every open past the cap closes one session; each is closed by one update and reported by one open.
    assert.equal(new Set(closed).size, closed.length, "no session reported twice");
    assert.equal(closed.length, 30);
    assert.equal(sessionUpdates - before, 30, "one conditional update per session closed");
    const live = await store.listLive("key-busy", T0 + 5100);
    assert.deepEqual(
      live.map((s) => s.id).sort(),
      Array.from({ length: 16 }, (_, i) => session(5114 + i, "key-busy").id).sort(),
    );
  });

  it("a session revoked but not yet moved is found in the live collection, once, and a move repeated is harmless", async () => {
    await store.open(session(3001, "key-halfway"), 16, T0 + 4000);
    const revoked = await store.revoke(session(3001, "key-halfway").id, "revoked_by_request", T0 + 4001);
    assert.ok(revoked);
    // As another replica's move cut short would leave it: copied already, not yet deleted.
    const doc = await db.collection("auth_sessions").findOne({ _id: revoked.id as never });
    assert.ok(doc);
    await db.collection("auth_sessions_ended").insertOne(doc);
    assert.equal((await store.get(revoked.id))?.revokedAt, T0 + 4001);
    assert.equal((await store.listRevokedSince(T0 + 4001)).filter((s) => s.id === revoked.id).length, 1);
    await store.purgeExpired(0);
    assert.equal(await db.collection("auth_sessions").countDocuments({ _id: revoked.id as never }), 0);
    assert.equal(await db.collection("auth_sessions_ended").countDocuments({ _id: revoked.id as never }), 1);
  });

  it("a key's live sessions are read through the index that leaves its closed sessions out", async () => {
    const { find, hint } = await liveQuery();
    assert.equal(hint, "auth_sessions_live");
    const indexes = await db.collection(find).listIndexes().toArray();
    assert.deepEqual(indexes.find((i) => i.name === hint)?.key, { apiKeyId: 1, revokedAt: 1, expiresAt: 1 });
  });

  it("that query examines only the key's 16 live sessions of its 200 (where the server reports it)", async (t) => {
    const { find, filter, hint } = await liveQuery();
    const explained = await db
      .command({ explain: { find, filter, ...(hint === undefined ? {} : { hint }) }, verbosity: "executionStats" })
      .catch(() => undefined);
    const stats = explained?.executionStats as { totalDocsExamined: number; nReturned: number } | undefined;
    if (stats === undefined) {
      t.skip("this server reports no executionStats (FerretDB filters whole collections); checked on MongoDB");
      return;
    }
    assert.equal(stats.nReturned, 16);
    assert.ok(stats.totalDocsExamined <= 16, `examined ${stats.totalDocsExamined} documents for 16 live sessions`);
  });
});

const SECRET = "myverylongandsecuresecretforapikey";
const SECRET_KEY = `k1:${Buffer.alloc(32, 7).toString("base64")}`;

describe("two auth replicas on one MongoDB database", () => {
  let apikey: TestApiKeyService;
  let keyOne = "";
  const bus = new MemoryEventBus();
  let mongo: MongoHandle;
  const apps: ServiceApp[] = [];
  const clients: ReturnType<typeof createClient<authV1.AuthServiceServer>>[] = [];

  before(async () => {
    mongo = await connect();
    apikey = await startApiKeyService({ bus });
    keyOne = (await apikey.addKey({ maxScope: ["pki:read_write"], secret: SECRET })).apiKeyId;
    const config = loadConfig({ PMX_MONGO_URL: "mongodb://unused", PMX_SECRET_KEY: SECRET_KEY, ...apikey.tlsEnv });
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
        undefined,
        { tls: apikey.tls },
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
      grant: { $case: "clientCredentials", value: { clientId: keyOne, clientSecret: SECRET, scope: [] } },
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
