import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { encodeVerifierKey, generateSigner } from "@pkiserver/log";
import { bearer, call, ok } from "../support/client";
import { startForm, type TestSystem } from "../support/forms";
import { randomPubKey } from "../support/keys";

/** The `pkiserver` bin as installed (node_modules/.bin/pkiserver points at it). */
const CLI = require.resolve("@pkiserver/cli");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the command line as a child process with only the environment given (and PATH). */
function pkiserver(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function expectCode(r: Run, code: number): void {
  assert.equal(r.code, code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

interface AuditEvent {
  id: string;
  type: string;
  target: string;
  details: Record<string, unknown>;
}

describe("the pkiserver command line against the embedded form", () => {
  let sys: TestSystem;
  let admin: { apiKeyId: string; apiKeySecret: string };
  let creds: Record<string, string>;
  let keyId: string;
  let keySecret: string;
  const work = mkdtempSync(join(tmpdir(), "pkiserver-cli-"));

  before(async () => {
    sys = await startForm("embedded");
    admin = await ok(sys.url, "auth/createFirstApiKey", { initializationToken: sys.initToken, name: "admin" });
    creds = { PMX_CLI_URL: sys.url, PMX_CLI_CLIENT_ID: admin.apiKeyId, PMX_CLI_CLIENT_SECRET: admin.apiKeySecret };
  });
  after(async () => {
    await sys?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("creates a key with a generated secret, shown once, that works", async () => {
    const r = await pkiserver(["keys", "create", "--name", "ops", "--scope", "user:read,pki:read", "--json"], creds);
    expectCode(r, 0);
    const created = JSON.parse(r.stdout) as { apiKeyId: string; clientSecret: string };
    assert.ok(created.apiKeyId && created.clientSecret.length >= 32);
    keyId = created.apiKeyId;
    keySecret = created.clientSecret;
    const token = await ok<{ scope: string[] }>(sys.url, "auth/token", {
      grantType: "client_credentials",
      clientId: keyId,
      clientSecret: keySecret,
      scope: [],
    });
    assert.deepEqual([...token.scope].sort(), ["pki:read", "user:read"]);
  });

  it("lists keys for people and for machines", async () => {
    const human = await pkiserver(["keys", "list"], creds);
    expectCode(human, 0);
    const [header, ...rows] = human.stdout.trimEnd().split("\n");
    assert.match(header ?? "", /^ID\s+NAME\s+ENABLED\s+CREATED\s+SCOPE$/);
    assert.ok(rows.some((row) => row.startsWith(keyId) && /\bops\b/.test(row) && /\byes\b/.test(row)));
    const machine = await pkiserver(["keys", "list", "--json"], creds);
    expectCode(machine, 0);
    const keys = JSON.parse(machine.stdout) as { apiKeyId: string; enabled: boolean }[];
    assert.deepEqual(keys.find((k) => k.apiKeyId === keyId)?.enabled, true);
    assert.equal(keys.length, 2);
  });

  it("lists a key's sessions and revokes one: its tokens stop working at once", async () => {
    const token = await ok<{ accessToken: string }>(sys.url, "auth/token", {
      grantType: "client_credentials",
      clientId: keyId,
      clientSecret: keySecret,
      scope: ["user:read", "session:cli-test"],
    });
    const listed = await pkiserver(["sessions", "list", keyId, "--json"], creds);
    expectCode(listed, 0);
    const sessions = JSON.parse(listed.stdout) as { sessionId: string; name?: string; apiKeyId: string }[];
    const named = sessions.find((s) => s.name === "cli-test");
    assert.ok(named, listed.stdout);
    assert.equal(named.apiKeyId, keyId);
    const human = await pkiserver(["sessions", "list", keyId], creds);
    assert.ok(human.stdout.includes(named.sessionId));

    assert.equal((await call(sys.url, "user/listApiKeys", {}, bearer(token.accessToken))).error, undefined);
    const revoked = await pkiserver(["sessions", "revoke", keyId, named.sessionId], creds);
    expectCode(revoked, 0);
    assert.equal(revoked.stdout.trim(), `revoked session ${named.sessionId}`);
    assert.equal((await call(sys.url, "user/listApiKeys", {}, bearer(token.accessToken))).error?.code, 75);
    const after = JSON.parse((await pkiserver(["sessions", "list", keyId, "--json"], creds)).stdout) as unknown[];
    assert.equal(after.length, sessions.length - 1);

    const again = await pkiserver(["sessions", "revoke", keyId, named.sessionId], creds);
    expectCode(again, 1);
    assert.match(again.stderr, /\(code 74\)/);
  });

  it("rotates a key: with no grace the old secret is refused and the new one works", async () => {
    const r = await pkiserver(["keys", "rotate", keyId, "--grace", "0", "--json"], creds);
    expectCode(r, 0);
    const rotated = JSON.parse(r.stdout) as { apiKeyId: string; clientSecret: string };
    assert.equal(rotated.apiKeyId, keyId);
    const grant = (secret: string) =>
      call(sys.url, "auth/token", {
        grantType: "client_credentials",
        clientId: keyId,
        clientSecret: secret,
        scope: [],
      });
    assert.equal((await grant(keySecret)).error?.code, 12);
    assert.equal((await grant(rotated.clientSecret)).error, undefined);
    keySecret = rotated.clientSecret;
  });

  it("disables, enables and deletes a key; a second delete fails with the JSON-RPC error", async () => {
    expectCode(await pkiserver(["keys", "disable", keyId], creds), 0);
    const enabledOf = async () =>
      (
        JSON.parse((await pkiserver(["keys", "list", "--json"], creds)).stdout) as {
          apiKeyId: string;
          enabled: boolean;
        }[]
      ).find((k) => k.apiKeyId === keyId)?.enabled;
    assert.equal(await enabledOf(), false);
    expectCode(await pkiserver(["keys", "enable", keyId], creds), 0);
    assert.equal(await enabledOf(), true);
    const deleted = await pkiserver(["keys", "delete", keyId], creds);
    expectCode(deleted, 0);
    assert.equal(deleted.stdout.trim(), `deleted ${keyId}`);
    assert.equal(await enabledOf(), undefined);
    const again = await pkiserver(["keys", "delete", keyId], creds);
    expectCode(again, 1);
    assert.match(again.stderr, /\(code 71\)/);
  });

  it("tails the audit log: one page, oldest first, one event per line with --json", async () => {
    // Events reach the audit log through the event bus, a moment after the replies.
    let events: AuditEvent[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await pkiserver(["audit", "tail", "--limit", "100", "--json"], creds);
      expectCode(r, 0);
      events = r.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEvent);
      if (events.some((e) => e.type === "apikey.deleted")) break;
      await sleep(100);
    }
    const order = ["apikey.created", "apikey.rotated", "apikey.disabled", "apikey.enabled", "apikey.deleted"];
    const positions = order.map((t) => events.findIndex((e) => e.type === t && e.target === keyId));
    assert.ok(
      positions.every((p, i) => p >= 0 && (i === 0 || p > (positions[i - 1] ?? -1))),
      `${order.join(", ")} in order: ${JSON.stringify(events.map((e) => e.type))}`,
    );
    assert.ok(events.some((e) => e.type === "session.revoked" && e.details.reason === "revoked"));
    const human = await pkiserver(["audit", "tail", "--limit", "3", "--types", "apikey.deleted"], creds);
    expectCode(human, 0);
    const lines = human.stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] ?? "",
      new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  apikey\\.deleted  ok  .*target=${keyId}`),
    );
  });

  it("refuses to revoke a session of a key more powerful than the caller (73)", async () => {
    const r = await pkiserver(["keys", "create", "--name", "limited", "--scope", "user:read_write", "--json"], creds);
    expectCode(r, 0);
    const limited = JSON.parse(r.stdout) as { apiKeyId: string; clientSecret: string };
    const adminSessions = JSON.parse(
      (await pkiserver(["sessions", "list", admin.apiKeyId, "--json"], creds)).stdout,
    ) as {
      sessionId: string;
      name?: string;
    }[];
    const cliSession = adminSessions.find((s) => s.name === "pkiserver-cli");
    assert.ok(cliSession, "each run uses the one session named pkiserver-cli");
    assert.equal(adminSessions.filter((s) => s.name === "pkiserver-cli").length, 1);
    const refused = await pkiserver(["sessions", "revoke", admin.apiKeyId, cliSession.sessionId], {
      ...creds,
      PMX_CLI_CLIENT_ID: limited.apiKeyId,
      PMX_CLI_CLIENT_SECRET: limited.clientSecret,
    });
    expectCode(refused, 1);
    assert.match(refused.stderr, /\(code 73\)/);
    expectCode(await pkiserver(["keys", "delete", limited.apiKeyId], creds), 0);
  });

  it("follows the audit log: a change made while it runs is printed once", async () => {
    const child = spawn(
      process.execPath,
      [CLI, "audit", "tail", "--follow", "--interval", "1", "--limit", "1", "--json"],
      {
        env: { PATH: process.env.PATH ?? "", ...creds },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const events: AuditEvent[] = [];
      let buffered = "";
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("utf8");
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) if (line) events.push(JSON.parse(line) as AuditEvent);
      });
      const until = async (what: string, check: () => boolean) => {
        const deadline = Date.now() + 20_000;
        while (!check()) {
          assert.ok(Date.now() < deadline, `no ${what} within 20 s: ${JSON.stringify(events.map((e) => e.type))}`);
          await sleep(100);
        }
      };
      await until("first page", () => events.length === 1);
      const { apiKeyId } = await ok<{ apiKeyId: string }>(
        sys.url,
        "user/addApiKey",
        { type: "secret", name: "followed", clientSecret: "s".repeat(40), maxScope: ["pki:read"] },
        { authorization: `Basic ${Buffer.from(`${admin.apiKeyId}:${admin.apiKeySecret}`).toString("base64")}` },
      );
      await until("apikey.created", () => events.some((e) => e.type === "apikey.created" && e.target === apiKeyId));
      await sleep(1500); // another poll or more: nothing printed twice
      const ids = events.map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, "every event printed once");
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("verifies the transparency log against the pinned key, and that it extends the last run's", async () => {
    const auth = bearer(
      (
        await ok<{ accessToken: string }>(sys.url, "auth/token", {
          grantType: "client_credentials",
          clientId: admin.apiKeyId,
          clientSecret: admin.apiKeySecret,
          scope: [],
        })
      ).accessToken,
    );
    const hostKey = randomPubKey();
    await ok(sys.url, "pkiAdmin/setHost", { hostPubKey: hostKey, hostUrl: "cli.example:3000" }, auth);
    let cp = await ok<{ treeSize: number; verifierKey: string }>(sys.url, "pki/getCheckpoint", {}, auth);
    while (cp.treeSize < 1) {
      await sleep(50);
      cp = await ok(sys.url, "pki/getCheckpoint", {}, auth);
    }
    const state = join(work, "log-state.json");
    const first = await pkiserver(["log", "verify", "--key", cp.verifierKey, "--state", state], creds);
    expectCode(first, 0);
    assert.match(first.stdout, /^OK: \S+ size \d+\n$/);

    await ok(sys.url, "pkiAdmin/addHostUrl", { instanceId: hostKey, hostUrl: "cli2.example:3000" }, auth);
    const size = cp.treeSize;
    while ((await ok<{ treeSize: number }>(sys.url, "pki/getCheckpoint", {}, auth)).treeSize <= size) await sleep(50);
    const second = await pkiserver(["log", "verify", "--state", state, "--json"], {
      ...creds,
      PMX_CLI_LOG_KEY: cp.verifierKey,
    });
    expectCode(second, 0);
    const verified = JSON.parse(second.stdout) as { ok: boolean; size: number; previousSize: number };
    assert.ok(verified.ok && verified.size > size && verified.previousSize >= size);

    // Another key of the same name: the checkpoint's signature does not verify.
    const origin = cp.verifierKey.split("+")[0] as string;
    const otherKey = encodeVerifierKey(generateSigner(origin));
    const wrong = await pkiserver(["log", "verify", "--key", otherKey, "--state", state], creds);
    expectCode(wrong, 1);
    assert.match(wrong.stderr, /^pkiserver: log verification FAILED: /);
    assert.equal(JSON.parse(readFileSync(state, "utf8")).size, verified.size, "a failed run keeps the last good state");
  });

  it("prints the effective configuration with secrets masked", async () => {
    const secretKey = `k1:${randomBytes(32).toString("base64")}`;
    const r = await pkiserver(["config", "print"], {
      PMX_MONGO_URL: "mongodb://pki:mongo-password@db:27017/pki",
      PMX_NATS_URL: "nats://bus:nats-password@nats:4222",
      PMX_REDIS_URL: "redis://:redis-password@cache:6379",
      PMX_SECRET_KEY: secretKey,
      PMX_INITIALIZATION_TOKEN: "initialization-token-value",
      PMX_PORT: "9101",
    });
    expectCode(r, 0);
    for (const secret of ["mongo-password", "nats-password", "redis-password", secretKey, "initialization-token"]) {
      assert.ok(!r.stdout.includes(secret), `${secret} printed`);
    }
    assert.match(r.stdout, /^gateway\.port = 9101$/m);
    assert.match(r.stdout, /^apikey\.mongoUrl = mongodb:\/\/pki:\*\*\*@db:27017\/pki$/m);
    assert.match(r.stdout, /^gateway\.redisUrl = redis:\/\/:\*\*\*@cache:6379$/m);
    assert.match(r.stdout, /^auth\.secretKey = \*\*\*$/m);
    assert.match(r.stdout, /^audit\.retentionMs = 7776000000$/m);

    const bad = await pkiserver(["config", "print"], { PMX_PORT: "x", PMX_AUDIT_RETENTION: "1", PMX_NATS_URL: "bus" });
    expectCode(bad, 1);
    for (const name of ["PMX_PORT", "PMX_AUDIT_RETENTION", "PMX_NATS_URL"]) assert.match(bad.stderr, new RegExp(name));
  });

  it("exits 2 on wrong usage and 1 with the error's message on refused credentials", async () => {
    expectCode(await pkiserver(["keys", "rotate"], creds), 2);
    expectCode(await pkiserver(["keys", "list", "--bogus"], creds), 2);
    expectCode(await pkiserver(["nothing", "here"], creds), 2);
    expectCode(await pkiserver(["keys", "list"], { PMX_CLI_URL: sys.url }), 2);
    const refused = await pkiserver(["keys", "list"], { ...creds, PMX_CLI_CLIENT_SECRET: "x".repeat(40) });
    expectCode(refused, 1);
    assert.match(refused.stderr, /\(code 12\)/);
    assert.ok(!refused.stderr.includes("x".repeat(40)));
  });
});
