import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tokenIdentityFromEnv } from "@pkiserver/contract";
import { GatewayConfigError, loadConfig } from "./config";

describe("gateway configuration: token issuer and audience", () => {
  it("PMX_ISSUER defaults to http://localhost:<PMX_PORT> and PMX_TOKEN_AUDIENCE to pkiserver, as auth reads them", () => {
    for (const env of [
      {},
      { PMX_PORT: "9001" },
      { PMX_ISSUER: "https://pki.example.com", PMX_TOKEN_AUDIENCE: "directory" },
    ] as Record<string, string>[]) {
      assert.deepEqual(loadConfig(env).tokenIdentity, tokenIdentityFromEnv(env), JSON.stringify(env));
    }
    assert.deepEqual(loadConfig({}).tokenIdentity, { issuer: "http://localhost:8101", audience: "pkiserver" });
  });

  it("refuses an issuer that is no http(s) URL or too long, and an audience with spaces", () => {
    for (const [name, value] of [
      ["PMX_ISSUER", "pki.example.com"],
      ["PMX_ISSUER", `https://${"a".repeat(200)}`],
      ["PMX_TOKEN_AUDIENCE", "a b"],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) => err instanceof GatewayConfigError && err.problems.some((p) => p.startsWith(name)),
      );
    }
  });
});

describe("gateway configuration: URLs", () => {
  it("takes origins, NATS servers and a Redis URL in their forms", () => {
    const c = loadConfig({
      PMX_CORS_ORIGINS: "https://app.example, http://localhost:3000",
      PMX_NATS_URL: "nats://a:4222,tls://b:4222",
      PMX_REDIS_URL: "rediss://:pw@cache:6380",
    });
    assert.deepEqual(c.corsOrigins, ["https://app.example", "http://localhost:3000"]);
    assert.equal(c.natsUrl, "nats://a:4222,tls://b:4222");
    assert.equal(c.redisUrl, "rediss://:pw@cache:6380");
    assert.deepEqual(loadConfig({ PMX_CORS_ORIGINS: "*" }).corsOrigins, ["*"]);
  });

  it("lists every malformed one at once", () => {
    try {
      loadConfig({
        PMX_CORS_ORIGINS: "https://app.example/, app.example, https://ok.example",
        PMX_NATS_URL: "nats://a:4222,http://b:4222",
        PMX_REDIS_URL: "cache:6379",
      });
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof GatewayConfigError);
      assert.equal(err.problems.filter((p) => p.startsWith("PMX_CORS_ORIGINS:")).length, 2, err.message);
      assert.equal(err.problems.filter((p) => p.startsWith("PMX_NATS_URL:")).length, 1, err.message);
      assert.equal(err.problems.filter((p) => p.startsWith("PMX_REDIS_URL:")).length, 1, err.message);
    }
  });
});
