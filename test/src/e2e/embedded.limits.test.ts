import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { freePort } from "@pkiserver/server";
import { startForm } from "../support/forms";
import { SERVER_TEST_ENV } from "../support/server-env";

const ENTRY = join(__dirname, "..", "..", "..", "services", "server", "dist", "embedded.js");

/**
 * API.md section 8 and the gateway's connections to its services: clients
 * that exhaust the process's file descriptors must not cut the gateway off
 * from the services, whose channels are opened at start and kept.
 */
describe("npm start under a file-descriptor limit", () => {
  it("still serves a call on an open connection while a flood of clients exhausts its descriptors", async () => {
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      PMX_PORT: String(port),
      ...SERVER_TEST_ENV,
      PMX_LOG_LEVEL: "warn",
    };
    // The limit applies to the server's process only: a few hundred connections exhaust it.
    const child = spawn("bash", ["-c", 'ulimit -n 256 && exec "$0" "$1"', process.execPath, ENTRY], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const flood: Socket[] = [];
    const send = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; json: unknown }>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path,
            method: body === undefined ? "GET" : "POST",
            agent,
            headers: { "content-type": "application/json", ...headers },
          },
          (res) => {
            let text = "";
            res.on("data", (d) => {
              text += d;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
          },
        );
        req.on("error", reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    try {
      const deadline = Date.now() + 30_000;
      while (!/API_KEY_SECRET=\S+/.test(out) && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const id = /API_KEY_ID=(\S+)/.exec(out)?.[1] as string;
      const secret = /API_KEY_SECRET=(\S+)/.exec(out)?.[1] as string;
      assert.ok(id && secret, out);
      // The token is had, and the connection the call will use opened, before the flood.
      const token = await send("/main", {
        jsonrpc: "2.0",
        id: 1,
        method: "auth/token",
        params: { grantType: "client_credentials", clientId: id, clientSecret: secret, scope: [] },
      });
      const accessToken = (token.json as { result: { accessToken: string } }).result.accessToken;

      // 400 idle connections from 40 addresses: far more than the 256 descriptors.
      const attempts: Promise<void>[] = [];
      for (let a = 10; a < 50; a++) {
        for (let i = 0; i < 10; i++) {
          attempts.push(
            new Promise<void>((resolve) => {
              const s = connect({ host: "127.0.0.1", port, localAddress: `127.0.0.${a}` });
              flood.push(s);
              s.on("error", () => resolve());
              s.once("connect", () => resolve());
            }),
          );
        }
      }
      await Promise.all(attempts);
      await new Promise((r) => setTimeout(r, 300));

      // The pki service has not been called yet: its channel must already be there.
      const res = await send(
        "/main",
        { jsonrpc: "2.0", id: 2, method: "pkiAdmin/listHosts", params: {} },
        { authorization: `Bearer ${accessToken}` },
      );
      assert.deepEqual(res.json, { jsonrpc: "2.0", id: 2, result: [] }, out);
      assert.equal(res.status, 200);
    } finally {
      for (const s of flood) s.destroy();
      agent.destroy();
      const exited = new Promise((resolve) => {
        if (child.exitCode !== null) resolve(child.exitCode);
        else child.once("exit", resolve);
      });
      child.kill("SIGINT");
      await exited;
    }
  });
});

describe("embedded form: request timeouts from the environment", () => {
  it("answers 408 and closes a connection whose body is slower than PMX_REQUEST_TIMEOUT_MS", async () => {
    const sys = await startForm("embedded", { PMX_HEADERS_TIMEOUT_MS: "300", PMX_REQUEST_TIMEOUT_MS: "600" });
    const { port } = new URL(sys.url);
    const socket = connect({ host: "127.0.0.1", port: Number(port) });
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        let text = "";
        socket.on("data", (d) => {
          text += d.toString();
        });
        socket.once("error", reject);
        socket.once("close", () => resolve(text));
        const timer = setTimeout(() => reject(new Error("still open after 5 s")), 5000);
        socket.once("close", () => clearTimeout(timer));
        socket.write(
          "POST /main HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        );
      });
      assert.match(answer, /^HTTP\/1\.1 408 /);
    } finally {
      socket.destroy();
      await sys.stop();
    }
  });
});
