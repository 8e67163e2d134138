import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freePort, startDistributed } from "@pkiserver/server";

describe("the local launcher of the distributed form", () => {
  it("says why a process stopped during start: its last lines are in the error", async () => {
    await assert.rejects(
      startDistributed({
        env: {
          PATH: process.env.PATH ?? "",
          PMX_HOST: "127.0.0.1",
          PMX_PORT: String(await freePort()),
          PMX_MONGO_URL: "mongodb://127.0.0.1:1/",
          PMX_NATS_URL: "nats://127.0.0.1:1",
          // Not a key: every service that reads it refuses to start, naming the setting.
          PMX_SECRET_KEY: "not-a-key",
        },
        readyTimeoutMs: 30_000,
      }),
      (err: Error) => /exited with code \d+ during start:\n[\s\S]*PMX_SECRET_KEY/.test(err.message),
    );
  });
});
