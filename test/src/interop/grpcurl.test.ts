// The services as grpcurl (github.com/fullstorydev/grpcurl, the Go gRPC
// command line) sees them: server reflection lists and describes them, the
// standard health service answers, and an error reply carries a
// google.rpc.Status with the project's ErrorInfo. grpcurl is built from the
// version pinned in test/infra/grpc-tools (PMX_GRPCURL_BIN names a built one).
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as apikey from "@pkiserver/apikey";
import * as audit from "@pkiserver/audit";
import * as auth from "@pkiserver/auth";
import { createLogger, MemoryEventBus, type ServiceApp, type ServiceRegistration } from "@pkiserver/kit";
import * as pki from "@pkiserver/pki";

const repoRoot = join(__dirname, "..", "..", "..");
const HEALTH = "grpc.health.v1.Health";
const given = process.env.PMX_GRPCURL_BIN;
const hasGo = spawnSync("go", ["version"]).status === 0;
// CI builds grpcurl (.ci/run); elsewhere the check runs wherever Go can build it.
if (process.env.CI && !given && !hasGo)
  throw new Error("CI: PMX_GRPCURL_BIN is unset and Go is missing to build grpcurl");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[]): Promise<Result> {
  // Asynchronously: the servers answering it run in this process.
  return new Promise((resolve) => {
    execFile(bin, ["-max-time", "20", ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("grpcurl against the services", {
  skip: given || hasGo ? false : "Go is not installed: grpcurl cannot be built",
}, () => {
  let bin: string;
  const apps: ServiceApp[] = [];
  const address = (name: string) => {
    const app = apps.find((a) => a.name === name);
    assert.ok(app, `no ${name} app`);
    return app.grpc.address;
  };
  const grpcurl = (args: string[]) => run(bin, ["-plaintext", ...args]);

  before(async () => {
    bin =
      given ??
      execFileSync(join(repoRoot, "test", "infra", "build-grpcurl.sh"), {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      }).trim();
    const env = {};
    const logger = createLogger({ name: "grpcurl-test", level: "silent" });
    const deps = { logger, bus: new MemoryEventBus(), listen: { host: "127.0.0.1", port: 0 } };
    const apikeyApp = await apikey.buildApp(apikey.loadConfig(env), deps);
    apps.push(apikeyApp);
    const [apikeyService] = apikeyApp.grpc.services;
    apps.push(await auth.buildApp(auth.loadConfig(env), { ...deps, apikey: apikeyService as ServiceRegistration }));
    apps.push(await pki.buildApp(pki.loadConfig(env), deps));
    apps.push(await audit.buildApp(audit.loadConfig(env), deps));
  });
  after(async () => {
    for (const app of apps.reverse()) await app.stop();
  });

  it("lists each server's own service and the health service, without credentials", async () => {
    for (const app of apps) {
      const res = await grpcurl([app.grpc.address, "list"]);
      assert.equal(res.code, 0, res.stderr);
      const own = app.grpc.services.map((s) => s.name);
      assert.equal(own.length, 1);
      assert.deepEqual(res.stdout.trim().split("\n").sort(), [HEALTH, ...own].sort(), app.name);
    }
  });

  it("describes services, methods and messages with the protos' comments", async () => {
    const service = await grpcurl([address("pki"), "describe", "pkiserver.pki.v1.PkiService"]);
    assert.equal(service.code, 0, service.stderr);
    assert.match(service.stdout, /PkiService owns host identities/);
    assert.match(
      service.stdout,
      /rpc GetKeyAt \( \.pkiserver\.pki\.v1\.GetKeyAtRequest \) returns \( \.pkiserver\.pki\.v1\.GetKeyAtResponse \)/,
    );
    const message = await grpcurl([address("pki"), "describe", "pkiserver.pki.v1.KeyRef"]);
    assert.equal(message.code, 0, message.stderr);
    assert.match(message.stdout, /pkiserver\.pki\.v1\.KeyRef is a message/);
    assert.match(message.stdout, /string user_id = 1;/);
    const health = await grpcurl([address("apikey"), "describe", `${HEALTH}.Check`]);
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stdout, /rpc Check \( \.grpc\.health\.v1\.HealthCheckRequest \)/);
  });

  it("reports SERVING from grpc.health.v1 for the server and for its service", async () => {
    for (const app of apps) {
      const whole = await grpcurl([app.grpc.address, `${HEALTH}/Check`]);
      assert.equal(whole.code, 0, whole.stderr);
      assert.deepEqual(JSON.parse(whole.stdout), { status: "SERVING" });
      const [service] = app.grpc.services;
      const one = await grpcurl([
        "-d",
        JSON.stringify({ service: service?.name }),
        app.grpc.address,
        `${HEALTH}/Check`,
      ]);
      assert.equal(one.code, 0, one.stderr);
      assert.deepEqual(JSON.parse(one.stdout), { status: "SERVING" });
    }
    const unknown = await grpcurl(["-d", '{"service":"pkiserver.nope.v1.Nope"}', address("pki"), `${HEALTH}/Check`]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /NotFound/);
  });

  it("decodes an error reply into a google.rpc.Status carrying the project's ErrorInfo", async () => {
    const res = await grpcurl([
      "-format-error",
      "-d",
      JSON.stringify({ apiKeyId: "0123456789abcdef0123456789abcdef" }),
      address("apikey"),
      "pkiserver.apikey.v1.ApiKeyService/GetApiKey",
    ]);
    // grpcurl exits with 64 + the gRPC status code and prints the Status on stderr. The call
    // carries no credentials, so the service refuses it before looking the key up.
    assert.equal(res.code, 64 + 16, res.stderr);
    const status = JSON.parse(res.stderr) as {
      code: number;
      message: string;
      details: { "@type": string; reason: string; domain: string; metadata: Record<string, string> }[];
    };
    assert.equal(status.code, 16);
    assert.equal(status.message, "Unauthorized");
    assert.deepEqual(status.details, [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "AUTH_UNAUTHORIZED",
        domain: "pkiserver",
        metadata: { code: "auth.unauthorized", rpcCode: "14" },
      },
    ]);
  });
});
