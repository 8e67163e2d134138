import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "@pkiserver/kit";
import { loadConfig } from "./config";

const KEY = `k1:${Buffer.alloc(32, 1).toString("base64")}`;

describe("auth configuration", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({});
    assert.deepEqual(c.listen, { host: "127.0.0.1", port: 8112 });
    assert.equal(c.apikeyAddress, "127.0.0.1:8111");
    assert.equal(c.accessTokenLifetimeMs, 900_000);
    assert.equal(c.refreshTokenLifetimeMs, 604_800_000);
    assert.equal(c.signingKeyRotationMs, 86_400_000);
    assert.equal(c.mongoDb, "pkiserver");
    assert.equal(c.natsPrefix, "pkiserver");
    assert.equal(c.mongoUrl, undefined);
  });

  it("reads every variable", () => {
    const c = loadConfig({
      PMX_AUTH_LISTEN: "[::1]:9000",
      PMX_APIKEY_ADDR: "apikey:7000",
      PMX_ACCESS_TOKEN_LIFETIME: "1000",
      PMX_REFRESH_TOKEN_LIFETIME: "2000",
      PMX_SIGNING_KEY_ROTATION: "3000",
      PMX_MONGO_URL: "mongodb://db:27017",
      PMX_SECRET_KEY: KEY,
      PMX_NATS_URL: "nats://bus:4222",
      PMX_LOG_LEVEL: "debug",
    });
    assert.deepEqual(c.listen, { host: "::1", port: 9000 });
    assert.equal(c.apikeyAddress, "apikey:7000");
    assert.deepEqual([c.accessTokenLifetimeMs, c.refreshTokenLifetimeMs, c.signingKeyRotationMs], [1000, 2000, 3000]);
    assert.equal(c.secretKey, KEY);
    assert.equal(c.natsUrl, "nats://bus:4222");
  });

  it("lists every problem: MongoDB without a secret key, an access lifetime beyond the refresh lifetime, bad numbers", () => {
    assert.throws(
      () =>
        loadConfig({
          PMX_MONGO_URL: "mongodb://db",
          PMX_ACCESS_TOKEN_LIFETIME: "5000",
          PMX_REFRESH_TOKEN_LIFETIME: "1000",
          PMX_SIGNING_KEY_ROTATION: "-1",
        }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) => p.startsWith("PMX_SECRET_KEY")) &&
        err.problems.some((p) => p.startsWith("PMX_ACCESS_TOKEN_LIFETIME")) &&
        err.problems.some((p) => p.startsWith("PMX_SIGNING_KEY_ROTATION")),
    );
  });

  it("bounds the lifetimes: refresh at most 90 days, access at most the refresh lifetime, each named", () => {
    assert.equal(loadConfig({ PMX_REFRESH_TOKEN_LIFETIME: "7776000000" }).refreshTokenLifetimeMs, 7_776_000_000);
    assert.throws(
      () => loadConfig({ PMX_REFRESH_TOKEN_LIFETIME: "7776000001" }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        err.problems[0] === "PMX_REFRESH_TOKEN_LIFETIME: must be at most 7776000000 (90 days)",
    );
    assert.throws(
      () => loadConfig({ PMX_REFRESH_TOKEN_LIFETIME: "60000", PMX_ACCESS_TOKEN_LIFETIME: "60001" }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        err.problems[0] === "PMX_ACCESS_TOKEN_LIFETIME: must not exceed PMX_REFRESH_TOKEN_LIFETIME",
    );
  });

  it("refuses a malformed secret key without echoing it", () => {
    assert.throws(
      () => loadConfig({ PMX_SECRET_KEY: "k1:c2hvcnQ=" }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes("c2hvcnQ="),
    );
  });
});
