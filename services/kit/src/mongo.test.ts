import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { connectMongo } from "./mongo";

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("connectMongo", () => {
  it("names an unreachable server by its address, password masked, and the time it waited", async () => {
    const port = await closedPort();
    const started = Date.now();
    await assert.rejects(connectMongo(`mongodb://admin:hunter2@127.0.0.1:${port}/pki?authSource=admin`, "pki", 300), {
      message: `MongoDB at mongodb://admin:***@127.0.0.1:${port}/pki not reachable within 0.3 s`,
    });
    assert.ok(Date.now() - started < 5000, "the given timeout applies, not the driver's default");
  });
});
