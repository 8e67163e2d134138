import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, collectConfigs, loadServiceEnv, maskUrl, parseConfig, urls, z } from "./config";

/** The ConfigError `fn` throws (the test fails if it throws nothing or something else). */
function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail("no ConfigError thrown");
}

describe("URL settings", () => {
  it("accepts MongoDB connection strings and refuses other URLs", () => {
    for (const ok of [
      "mongodb://db:27017",
      "mongodb://user:p%40ss@db1:27017,db2:27017/pki?replicaSet=rs0",
      "mongodb+srv://user:pw@cluster.example.net/pki",
      "mongodb://127.0.0.1",
    ]) {
      assert.ok(urls.mongo(ok), ok);
    }
    for (const bad of ["http://db:27017", "db:27017", "mongodb://", "mongodb+srv://a:1,b:2", "postgres://db"]) {
      assert.ok(!urls.mongo(bad), bad);
    }
  });

  it("accepts nats:// and tls:// servers, redis:// and rediss://, and bare origins", () => {
    assert.ok(urls.nats("nats://bus:4222") && urls.nats("tls://user:pw@bus:4222"));
    for (const bad of ["bus:4222", "http://bus:4222", "nats://", "nats:bus"]) assert.ok(!urls.nats(bad), bad);
    assert.ok(urls.redis("redis://cache:6379") && urls.redis("rediss://:pw@cache:6380/0"));
    for (const bad of ["cache:6379", "http://cache", "redis://"]) assert.ok(!urls.redis(bad), bad);
    assert.ok(urls.origin("https://app.example") && urls.origin("http://localhost:3000"));
    for (const bad of ["https://app.example/", "https://app.example/path", "app.example", "ftp://app.example", "*"]) {
      assert.ok(!urls.origin(bad), bad);
    }
  });

  it("lists every bad server of PMX_NATS_URL, and a bad PMX_MONGO_URL, in one error", () => {
    const err = configErrorOf(() =>
      loadServiceEnv({ PMX_MONGO_URL: "http://db", PMX_NATS_URL: "nats://ok:4222, bus:4222 ,http://u:secret@x" }),
    );
    assert.equal(err.problems.filter((p) => p.startsWith("PMX_NATS_URL")).length, 2);
    assert.ok(err.problems.some((p) => p.startsWith("PMX_MONGO_URL: expected mongodb://")));
    assert.ok(!err.message.includes("secret"), "a password in a bad URL is not echoed");
  });

  it("reads valid URLs and the MongoDB timeout", () => {
    const s = loadServiceEnv({
      PMX_MONGO_URL: " mongodb://db:27017 ",
      PMX_NATS_URL: "nats://a:4222,tls://b:4222",
      PMX_MONGO_TIMEOUT: "1500",
    });
    assert.equal(s.mongoUrl, "mongodb://db:27017");
    assert.equal(s.natsUrl, "nats://a:4222,tls://b:4222");
    assert.equal(s.mongoTimeoutMs, 1500);
    assert.equal(loadServiceEnv({}).mongoTimeoutMs, 5000);
  });
});

describe("maskUrl", () => {
  it("masks the password or a lone token and drops the query", () => {
    assert.equal(maskUrl("mongodb://user:pw@db:27017/pki?authSource=admin"), "mongodb://user:***@db:27017/pki");
    assert.equal(maskUrl("mongodb://user:p/w@ss@db1:1,db2:2"), "mongodb://user:***@db1:1,db2:2");
    assert.equal(maskUrl("nats://token@bus:4222"), "nats://***@bus:4222");
    assert.equal(maskUrl("redis://cache:6379"), "redis://cache:6379");
    assert.equal(maskUrl("bus:4222"), "bus:4222");
    assert.equal(maskUrl("user:pw@bus:4222"), "user:***@bus:4222");
  });
});

describe("collectConfigs", () => {
  const a = z.object({ A: z.coerce.number().int(), SHARED: z.enum(["x"]).optional() });
  const b = z.object({ B: z.enum(["on", "off"]), SHARED: z.enum(["x"]).optional() });

  it("runs every loader and lists all their problems once each", () => {
    const env = { A: "one", B: "maybe", SHARED: "y" };
    const err = configErrorOf(() => collectConfigs({ a: () => parseConfig(a, env), b: () => parseConfig(b, env) }));
    assert.equal(err.problems.filter((p) => p.startsWith("A:")).length, 1);
    assert.equal(err.problems.filter((p) => p.startsWith("B:")).length, 1);
    assert.equal(err.problems.filter((p) => p.startsWith("SHARED:")).length, 1);
  });

  it("returns each loader's result when all succeed, and rethrows other errors", () => {
    const env = { A: "1", B: "on" };
    assert.deepEqual(collectConfigs({ a: () => parseConfig(a, env).A, b: () => parseConfig(b, env).B }), {
      a: 1,
      b: "on",
    });
    assert.throws(
      () =>
        collectConfigs({
          a: () => {
            throw new TypeError("bug");
          },
        }),
      TypeError,
    );
  });
});

describe("gRPC TLS settings", () => {
  it("are all three or none, and readable", () => {
    assert.equal(loadServiceEnv({}).grpcTls, undefined);
    const dir = mkdtempSync(join(tmpdir(), "kit-tls-"));
    for (const f of ["c", "k", "a"]) writeFileSync(join(dir, f), `${f}-pem`);
    const tls = loadServiceEnv({
      PMX_GRPC_TLS_CERT: join(dir, "c"),
      PMX_GRPC_TLS_KEY: join(dir, "k"),
      PMX_GRPC_TLS_CA: join(dir, "a"),
    }).grpcTls;
    assert.deepEqual([tls?.cert.toString(), tls?.key.toString(), tls?.ca.toString()], ["c-pem", "k-pem", "a-pem"]);
    assert.throws(
      () => loadServiceEnv({ PMX_GRPC_TLS_CERT: join(dir, "c") }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
    assert.throws(
      () =>
        loadServiceEnv({
          PMX_GRPC_TLS_CERT: join(dir, "c"),
          PMX_GRPC_TLS_KEY: join(dir, "missing"),
          PMX_GRPC_TLS_CA: join(dir, "a"),
        }),
      (err: unknown) => err instanceof ConfigError && /PMX_GRPC_TLS_KEY/.test(err.message),
    );
  });
});
