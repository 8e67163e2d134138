import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { freePort } from "@pkiserver/server";
import { bearer, ok } from "../support/client";
import { HOST_KEYS } from "../support/keys";

const ENTRY = join(__dirname, "..", "..", "..", "services", "server", "dist", "embedded.js");

/** What `npm start` runs, driven as a newcomer would: read the banner, use the key, press Ctrl-C. */
describe("npm start (the embedded process)", () => {
  it("prints the URL, a first key that works and the log's verifier key, serves the README flow, and stops cleanly on SIGINT", async () => {
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      PMX_PORT: String(port),
      PMX_HOST: "127.0.0.1",
      // The services' gRPC ports on free ports (8111-8114 by default), so parallel runs do not collide.
      PMX_APIKEY_LISTEN: "127.0.0.1:0",
      PMX_AUTH_LISTEN: "127.0.0.1:0",
      PMX_PKI_LISTEN: "127.0.0.1:0",
      PMX_AUDIT_LISTEN: "127.0.0.1:0",
    };
    const child = spawn(process.execPath, [ENTRY], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    try {
      const deadline = Date.now() + 30_000;
      while (!/API_KEY_SECRET=\S+/.test(out) && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(out, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}/main`));
      const id = /API_KEY_ID=(\S+)/.exec(out)?.[1] as string;
      const secret = /API_KEY_SECRET=(\S+)/.exec(out)?.[1] as string;
      assert.ok(id && secret, out);
      const url = `http://127.0.0.1:${port}`;
      const t = await ok<{ accessToken: string }>(url, "auth/token", {
        grantType: "client_credentials",
        clientId: id,
        clientSecret: secret,
        scope: [],
      });
      const h = bearer(t.accessToken);
      const host = HOST_KEYS[0];
      assert.equal(await ok(url, "pkiadmin/setHost", { hostPubKey: host, hostUrl: "localhost:3000" }, h), host);
      const ref = { userId: "user1", instanceId: host, contextId: "32fcd0b5-ceb5-44a7-9990-0d999b9718e6" };
      await ok(url, "pkiadmin/setKey", { ...ref, userPubKey: HOST_KEYS[1] }, h);
      const current = await ok<{ createDate: number }>(url, "pki/getCurrentKey", ref, h);
      assert.equal(
        await ok(url, "pki/verifyKey", { ...ref, userPubKey: HOST_KEYS[1], date: current.createDate }, h),
        true,
      );
      // The log's key is made at start and printed beside the first key, for clients to pin.
      // Where the services' gRPC ports listen is printed too, for internal consumers.
      for (const name of ["apikey", "auth", "pki", "audit"]) {
        assert.match(out, new RegExp(`\\n  ${name} +127\\.0\\.0\\.1:[1-9]\\d*\\n`), out);
      }
      const logKey = /LOG_VERIFIER_KEY=(\S+)/.exec(out)?.[1];
      assert.ok(logKey, out);
      assert.equal((await ok<{ verifierKey: string }>(url, "pki/getCheckpoint", {}, h)).verifierKey, logKey);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGINT");
      assert.equal(await exited, 0, `exit code after Ctrl-C; output:\n${out}`);
    }
  });
});
