import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GatewayConfigError, loadConfig } from "./config";

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
