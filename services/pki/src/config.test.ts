import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "@pkiserver/kit";
import { loadConfig } from "./config";

// golang.org/x/mod/sumdb/note's example key.
const GO_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

describe("loadConfig", () => {
  it("defaults to loopback port 8113, in-memory stores and the in-process bus", () => {
    assert.deepEqual(loadConfig({}), {
      listen: { host: "127.0.0.1", port: 8113 },
      mongoUrl: undefined,
      mongoDb: "pkiserver",
      mongoTimeoutMs: 5000,
      natsUrl: undefined,
      natsPrefix: "pkiserver",
      logLevel: "info",
      otlpEndpoint: undefined,
      metricsListen: undefined,
      testEventPublishDelayMs: 0,
      grpcTls: undefined,
      authAddress: "127.0.0.1:8112",
      tokenEnv: { PMX_PORT: undefined, PMX_ISSUER: undefined, PMX_TOKEN_AUDIENCE: undefined },
      publicRead: false,
      log: { origin: "pkiserver.local/log", signingKey: undefined, checkpointIntervalMs: 1000 },
    });
  });

  it("reads every setting, IPv6 listen addresses included", () => {
    const c = loadConfig({
      PMX_PKI_LISTEN: "[::1]:9000",
      PMX_MONGO_URL: "mongodb://db:27017",
      PMX_MONGO_DB: "pki",
      PMX_MONGO_TIMEOUT: "2500",
      PMX_NATS_URL: "nats://bus:4222",
      PMX_NATS_PREFIX: "p1",
      PMX_LOG_LEVEL: "debug",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318",
      PMX_METRICS_LISTEN: "0.0.0.0:9464",
      PMX_TEST_EVENT_PUBLISH_DELAY_MS: "250",
      PMX_LOG_SIGNING_KEY: GO_KEY,
      PMX_LOG_CHECKPOINT_INTERVAL: "250",
      PMX_AUTH_ADDR: "auth:8112",
      PMX_ISSUER: "https://pki.example.org",
      PMX_PKI_PUBLIC_READ: "true",
    });
    assert.deepEqual(c, {
      listen: { host: "::1", port: 9000 },
      mongoUrl: "mongodb://db:27017",
      mongoDb: "pki",
      mongoTimeoutMs: 2500,
      natsUrl: "nats://bus:4222",
      natsPrefix: "p1",
      logLevel: "debug",
      otlpEndpoint: "http://otel:4318",
      metricsListen: { host: "0.0.0.0", port: 9464 },
      testEventPublishDelayMs: 250,
      grpcTls: undefined,
      authAddress: "auth:8112",
      tokenEnv: { PMX_PORT: undefined, PMX_ISSUER: "https://pki.example.org", PMX_TOKEN_AUDIENCE: undefined },
      publicRead: true,
      log: { origin: "PeterNeumann", signingKey: GO_KEY, checkpointIntervalMs: 250 },
    });
  });

  it("lists every invalid setting at once", () => {
    assert.throws(
      () => loadConfig({ PMX_PKI_LISTEN: "nowhere", PMX_LOG_LEVEL: "loud" }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
  });

  it("refuses a malformed log signing key without echoing it, and an origin that is not its name", () => {
    assert.throws(
      () => loadConfig({ PMX_LOG_SIGNING_KEY: "PRIVATE+KEY+x+00000000+c2VjcmV0", PMX_LOG_CHECKPOINT_INTERVAL: "0" }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 2 &&
        /PMX_LOG_SIGNING_KEY/.test(err.message) &&
        !err.message.includes("c2VjcmV0"),
    );
    assert.throws(
      () => loadConfig({ PMX_LOG_SIGNING_KEY: GO_KEY, PMX_LOG_ORIGIN: "other/log" }),
      (err: unknown) => err instanceof ConfigError && /PMX_LOG_ORIGIN/.test(err.message),
    );
    assert.equal(loadConfig({ PMX_LOG_ORIGIN: "example.org/log" }).log.origin, "example.org/log");
  });

  it("takes a bench fill of the log of at most 2,000,000 records, never with the log off", () => {
    assert.equal(loadConfig({ PMX_TEST_LOG_FILL: "1000000" }).log.testFill, 1_000_000);
    assert.equal(loadConfig({ PMX_TEST_LOG_FILL: "0" }).log.testFill, undefined);
    for (const bad of ["2000001", "-1", "1.5", "many"]) {
      assert.throws(
        () => loadConfig({ PMX_TEST_LOG_FILL: bad }),
        (err: unknown) => err instanceof ConfigError && /PMX_TEST_LOG_FILL/.test(err.message),
        bad,
      );
    }
    assert.throws(
      () => loadConfig({ PMX_TEST_LOG_FILL: "100", PMX_TEST_LOG_OFF: "true" }),
      (err: unknown) => err instanceof ConfigError && /PMX_TEST_LOG_FILL/.test(err.message),
    );
  });
});
