import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { freeport } from "@pkiserver/test-harness";

/** A process entry of a workspace package (`dist/<file>`). */
const entry = (pkg: string, file: string) => join(dirname(require.resolve(`${pkg}/package.json`)), "dist", file);

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

function run(script: string, env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

const NO_STACK = /^\s+at /m;

describe("configuration problems at start", () => {
  it("the embedded form prints every invalid variable of every component at once and exits 1", async () => {
    const r = await run(entry("@pkiserver/server", "embedded.js"), {
      PMX_PORT: "http", // gateway
      PMX_CORS_ORIGINS: "app.example", // gateway: not an origin
      PMX_APIKEY_LISTEN: "8111", // apikey
      PMX_ACCESS_TOKEN_LIFETIME: "-1", // auth
      PMX_LOG_CHECKPOINT_INTERVAL: "0", // pki
      PMX_AUDIT_RETENTION: "10", // audit
      PMX_NATS_URL: "http://bus:4222", // every component
      PMX_MONGO_URL: "mongo://db", // every service
    });
    assert.equal(r.code, 1, r.stderr);
    for (const name of [
      "PMX_PORT",
      "PMX_CORS_ORIGINS",
      "PMX_APIKEY_LISTEN",
      "PMX_ACCESS_TOKEN_LIFETIME",
      "PMX_LOG_CHECKPOINT_INTERVAL",
      "PMX_AUDIT_RETENTION",
      "PMX_NATS_URL",
      "PMX_MONGO_URL",
    ]) {
      assert.equal(
        r.stderr.split("\n").filter((l) => l.trim().startsWith(`${name}:`)).length,
        1,
        `${name}:\n${r.stderr}`,
      );
    }
    assert.doesNotMatch(r.stderr, NO_STACK);
    assert.equal(r.stdout, "", "nothing started, nothing printed");
  });

  it("each service process lists all of its problems before starting", async () => {
    for (const [pkg, env, names] of [
      [
        "@pkiserver/apikey",
        { PMX_APIKEY_LISTEN: "x", PMX_MONGO_URL: "db:27017" },
        ["PMX_APIKEY_LISTEN", "PMX_MONGO_URL"],
      ],
      ["@pkiserver/auth", { PMX_AUTH_LISTEN: "x", PMX_NATS_URL: "bus" }, ["PMX_AUTH_LISTEN", "PMX_NATS_URL"]],
      ["@pkiserver/pki", { PMX_PKI_LISTEN: "x", PMX_LOG_LEVEL: "loud" }, ["PMX_PKI_LISTEN", "PMX_LOG_LEVEL"]],
      [
        "@pkiserver/audit",
        { PMX_AUDIT_LISTEN: "x", PMX_AUDIT_RETENTION: "1" },
        ["PMX_AUDIT_LISTEN", "PMX_AUDIT_RETENTION"],
      ],
      ["@pkiserver/gateway", { PMX_PORT: "x", PMX_REDIS_URL: "cache:6379" }, ["PMX_PORT", "PMX_REDIS_URL"]],
    ] as const) {
      const r = await run(entry(pkg, "main.js"), env);
      assert.equal(r.code, 1, `${pkg}: ${r.stderr}`);
      assert.match(r.stderr, /invalid configuration:/);
      for (const name of names) assert.match(r.stderr, new RegExp(`^  ${name}: `, "m"), `${pkg}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, NO_STACK);
    }
  });

  it("an unreachable MongoDB is named with its masked address and the time waited, without a stack trace", async () => {
    // A loopback port nothing listens on (bound, then closed).
    const port = await freeport();
    const r = await run(entry("@pkiserver/server", "embedded.js"), {
      PMX_PORT: "0",
      PMX_HOST: "127.0.0.1",
      PMX_MONGO_URL: `mongodb://admin:hunter2@127.0.0.1:${port}/pki?authSource=admin`,
      PMX_MONGO_TIMEOUT: "300",
      PMX_SECRET_KEY: `k1:${Buffer.alloc(32, 1).toString("base64")}`,
      PMX_LOG_LEVEL: "silent",
    });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim(), `MongoDB at mongodb://admin:***@127.0.0.1:${port}/pki not reachable within 0.3 s`);
    assert.ok(!`${r.stdout}${r.stderr}`.includes("hunter2"));
  });
});
