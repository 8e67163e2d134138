import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { ConfigError } from "@pkiserver/kit";
import { loadConfig } from "./config";

const KEY = `k1:${randomBytes(32).toString("base64")}`;

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const c = loadConfig({});
    assert.deepEqual(c.listen, { host: "127.0.0.1", port: 8111 });
    assert.equal(c.mongoDb, "pkiserver");
    assert.equal(c.natsPrefix, "pkiserver");
    assert.equal(c.initializationToken, undefined);
    assert.equal(c.secretKey, undefined);
    assert.equal(c.mongoUrl, undefined);
  });

  it("reads an IPv6 listen address and treats an empty token as unset", () => {
    const c = loadConfig({ PMX_APIKEY_LISTEN: "[::1]:9000", PMX_INITIALIZATION_TOKEN: "" });
    assert.deepEqual(c.listen, { host: "::1", port: 9000 });
    assert.equal(c.initializationToken, undefined);
  });

  it("requires PMX_SECRET_KEY with MongoDB, and lists every problem without the key material", () => {
    assert.throws(
      () => loadConfig({ PMX_MONGO_URL: "mongodb://localhost:27017", PMX_APIKEY_LISTEN: "nope" }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 2 &&
        err.problems.some((p) => p.startsWith("PMX_SECRET_KEY")) &&
        err.problems.some((p) => p.startsWith("PMX_APIKEY_LISTEN")),
    );
    const short = `k1:${randomBytes(16).toString("base64")}`;
    assert.throws(
      () => loadConfig({ PMX_SECRET_KEY: short }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes(short.slice(3)),
    );
    assert.equal(loadConfig({ PMX_MONGO_URL: "mongodb://localhost:27017", PMX_SECRET_KEY: KEY }).secretKey, KEY);
  });
});
