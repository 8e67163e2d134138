import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "@pkiserver/kit/config";
import { effectiveConfig, loadSystemConfig } from "./config";

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("no ConfigError thrown");
}

describe("the embedded form's configuration", () => {
  it("reports every invalid variable of every component in one error, a shared one once", () => {
    const problems = problemsOf(() =>
      loadSystemConfig({
        PMX_PORT: "eighty", // gateway
        PMX_CORS_ORIGINS: "https://app.example,https://b.example/path", // gateway
        PMX_REDIS_URL: "http://cache:6379", // gateway
        PMX_APIKEY_LISTEN: "nowhere", // apikey
        PMX_REFRESH_TOKEN_LIFETIME: "0", // auth
        PMX_LOG_ORIGIN: "has space", // pki
        PMX_AUDIT_RETENTION: "5", // audit
        PMX_MONGO_URL: "postgres://db", // all four services
        PMX_NATS_URL: "bus:4222", // the services and the gateway
      }),
    );
    for (const name of [
      "PMX_PORT",
      "PMX_CORS_ORIGINS",
      "PMX_REDIS_URL",
      "PMX_APIKEY_LISTEN",
      "PMX_REFRESH_TOKEN_LIFETIME",
      "PMX_LOG_ORIGIN",
      "PMX_AUDIT_RETENTION",
      "PMX_MONGO_URL",
      "PMX_NATS_URL",
    ]) {
      assert.ok(
        problems.some((p) => p.startsWith(`${name}:`)),
        `${name} missing from:\n${problems.join("\n")}`,
      );
    }
    assert.equal(problems.filter((p) => p.startsWith("PMX_MONGO_URL:")).length, 1);
    assert.equal(problems.filter((p) => p.startsWith("PMX_NATS_URL:")).length, 1);
    assert.ok(problems.some((p) => p.includes("https://b.example/path")));
  });

  it("makes an initialization token nobody sees when none is set, and keeps a given one", () => {
    const made = loadSystemConfig({});
    assert.equal(made.printFirstKey, true);
    assert.equal(made.apikey.initializationToken, made.initializationToken);
    assert.ok(made.initializationToken.length >= 32);
    const given = loadSystemConfig({ PMX_INITIALIZATION_TOKEN: "t".repeat(40) });
    assert.equal(given.printFirstKey, false);
    assert.equal(given.initializationToken, "t".repeat(40));
  });

  it("shows the effective configuration with secrets and URL passwords masked", () => {
    const secretKey = `k1:${Buffer.alloc(32, 7).toString("base64")}`;
    const shown = effectiveConfig({
      PMX_MONGO_URL: "mongodb://pki:mongo-pw@db:27017/pki",
      PMX_NATS_URL: "nats://nats-user:nats-pw@bus:4222",
      PMX_REDIS_URL: "redis://:redis-pw@cache:6379",
      PMX_SECRET_KEY: secretKey,
      PMX_INITIALIZATION_TOKEN: "init-token-value-0123456789",
      PMX_PORT: "9101",
    });
    const text = JSON.stringify(shown);
    for (const secret of ["mongo-pw", "nats-pw", "redis-pw", secretKey, "init-token-value"]) {
      assert.ok(!text.includes(secret), `${secret} shown`);
    }
    const gateway = shown.gateway as Record<string, unknown>;
    const apikey = shown.apikey as Record<string, unknown>;
    assert.equal(gateway.port, 9101);
    assert.equal(gateway.redisUrl, "redis://:***@cache:6379");
    assert.equal(apikey.mongoUrl, "mongodb://pki:***@db:27017/pki");
    assert.equal(apikey.natsUrl, "nats://nats-user:***@bus:4222");
    assert.equal(apikey.secretKey, "***");
    assert.equal(apikey.initializationToken, "***");
    assert.equal((shown.audit as Record<string, unknown>).retentionMs, 90 * 24 * 3600_000);
  });
});
