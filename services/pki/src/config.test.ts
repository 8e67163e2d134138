import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "@pkiserver/kit";
import { loadConfig } from "./config";

describe("loadConfig", () => {
  it("defaults to loopback port 8113, in-memory stores and the in-process bus", () => {
    assert.deepEqual(loadConfig({}), {
      listen: { host: "127.0.0.1", port: 8113 },
      mongoUrl: undefined,
      mongoDb: "pkiserver",
      natsUrl: undefined,
      natsPrefix: "pkiserver",
      logLevel: "info",
      otlpEndpoint: undefined,
      testEventPublishDelayMs: 0,
    });
  });

  it("reads every setting, IPv6 listen addresses included", () => {
    const c = loadConfig({
      PMX_PKI_LISTEN: "[::1]:9000",
      PMX_MONGO_URL: "mongodb://db:27017",
      PMX_MONGO_DB: "pki",
      PMX_NATS_URL: "nats://bus:4222",
      PMX_NATS_PREFIX: "p1",
      PMX_LOG_LEVEL: "debug",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318",
      PMX_TEST_EVENT_PUBLISH_DELAY_MS: "250",
    });
    assert.deepEqual(c, {
      listen: { host: "::1", port: 9000 },
      mongoUrl: "mongodb://db:27017",
      mongoDb: "pki",
      natsUrl: "nats://bus:4222",
      natsPrefix: "p1",
      logLevel: "debug",
      otlpEndpoint: "http://otel:4318",
      testEventPublishDelayMs: 250,
    });
  });

  it("lists every invalid setting at once", () => {
    assert.throws(
      () => loadConfig({ PMX_PKI_LISTEN: "nowhere", PMX_LOG_LEVEL: "loud" }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
  });
});
